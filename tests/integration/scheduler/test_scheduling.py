"""The scheduler with real engines behind the runner's HTTP front, on both llama backends.

Tests that need a runner started with settings of their own, or that change or end it, start their own
(``start_runner``); the others share one per backend (``shared_runner``): an engine killed mid-stream is
replaced by the next request, so it leaves the runner as it found it."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from compose_models.runner.backends.process import NO_PDEATHSIG_VARIABLE
from tests.conftest import LOCAL_MODEL_TAG, free_port, proc_dir, run_cli
from tests.integration.api.conftest import serving_runner
from tests.integration.scheduler.conftest import Runner, wait_until
from tests.integration.scheduler.engine_processes import is_gone
from tests.stand_in_llama_server import CRASH_ON_FIRST_ANSWER, engine_starts, write_stand_in

pytestmark = pytest.mark.model


def test_lazy_load_then_unload_after_a_two_second_keep_alive(start_runner) -> None:
    runner = start_runner(COMPOSE_MODELS_KEEP_ALIVE="2s")
    assert runner.loaded() == [] and runner.engine_pids() == []
    assert runner.complete().status_code == 200
    assert runner.loaded() == [LOCAL_MODEL_TAG] and len(runner.engine_pids()) == 1
    released = time.monotonic()
    assert wait_until(lambda: runner.loaded() == [])
    assert time.monotonic() - released >= 1.5
    assert wait_until(lambda: runner.engine_pids() == [])


def test_eviction_under_a_small_memory_budget_and_a_refusal_with_the_numbers(start_runner, smollm2_gguf: Path) -> None:
    # Each SmolLM2 engine needs about 94 MiB of weights + 64 MiB compute + its KV cache (22.5 KiB a token):
    # 185 MiB at 1024 tokens, 208 MiB at 2048, 343 MiB at 8192. A 300 MiB budget holds one at a time.
    runner = start_runner(COMPOSE_MODELS_MEMORY_BUDGET="300MiB")
    small = runner.package("local/smollm2:ctx1024", smollm2_gguf, 1024)
    medium = runner.package("local/smollm2:ctx2048", smollm2_gguf, 2048)
    assert runner.complete(small).status_code == 200
    assert runner.loaded() == [small]
    assert runner.complete(medium).status_code == 200
    assert runner.loaded() == [medium]
    assert wait_until(lambda: len(runner.engine_pids()) == 1)

    refused = runner.complete(LOCAL_MODEL_TAG)  # its artifact asks for 8192 tokens
    assert refused.status_code >= 500
    message = refused.json()["error"]["message"]
    assert "needs about" in message and "8192 tokens" in message, message
    assert "300.0 MiB (set by COMPOSE_MODELS_MEMORY_BUDGET or --memory-budget)" in message, message
    assert runner.loaded() == [medium]  # nothing was evicted for a load that cannot fit


def test_an_engine_killed_mid_stream_gives_an_error_event_then_the_next_request_succeeds(shared_runner) -> None:
    runner = shared_runner
    body = {"model": LOCAL_MODEL_TAG, "prompt": "Once upon a time", "max_tokens": 400, "stream": True,
            "temperature": 1.0, "ignore_eos": True}  # fmt: skip
    events = []
    with httpx.stream("POST", f"{runner.url}/engines/v1/completions", json=body, timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line.removeprefix("data: "))
                if len(events) == 2:
                    [engine] = runner.engine_pids()
                    os.kill(engine, signal.SIGKILL)
    assert len(events) < 400
    assert "error" in json.loads(events[-1]), events[-3:]
    assert "crashed: killed by SIGKILL" in json.loads(events[-1])["error"]["message"]
    assert runner.complete().status_code == 200
    assert len(runner.engine_pids()) == 1


def test_ten_parallel_requests_are_all_answered_correctly(shared_runner) -> None:
    runner = shared_runner
    starts = range(10, 110, 10)

    def continue_counting(start: int) -> str:
        prompt = ", ".join(str(start + step) for step in range(4)) + ","
        response = runner.complete(prompt=prompt, max_tokens=6)
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["text"]

    def next_numbers(answers: list[str]) -> list[str]:
        return [answer.split(",")[0].strip() for answer in answers]

    alone = next_numbers([continue_counting(start) for start in starts])
    with ThreadPoolExecutor(10) as pool:
        together = next_numbers(list(pool.map(continue_counting, starts)))
    # Each answer goes on with its own sequence, as it did alone: no request saw another's tokens.
    assert together == alone
    assert sum(number == str(start + 4) for number, start in zip(alone, starts)) >= 8, alone


def test_parallel_streams_all_run_to_the_end(shared_runner) -> None:
    runner = shared_runner
    body = {"model": LOCAL_MODEL_TAG, "prompt": "Once upon a time", "max_tokens": 16, "stream": True}

    def stream(_: int) -> list[str]:
        with httpx.stream("POST", f"{runner.url}/engines/v1/completions", json=body, timeout=120) as response:
            return [line for line in response.iter_lines() if line.startswith("data: ")]

    with ThreadPoolExecutor(4) as pool:
        for events in pool.map(stream, range(4)):
            assert events[-1] == "data: [DONE]"
            assert not any('"error"' in event for event in events), events


def test_configure_with_a_preset_and_a_keep_alive(start_runner) -> None:
    runner = start_runner()
    runner.cli("configure", "--preset", "code", "--keep-alive", "10m", LOCAL_MODEL_TAG, "--", "--temp", "0.1")
    [configuration] = httpx.get(f"{runner.url}/engines/_configure", params={"model": LOCAL_MODEL_TAG}).json()
    assert configuration["Config"]["runtime-flags"][-2:] == ["--temp", "0.1"]
    assert "--repeat-penalty" in configuration["Config"]["runtime-flags"]
    assert configuration["Config"]["keep_alive"] == "10m0s"
    assert runner.complete().status_code == 200
    [entry] = httpx.get(f"{runner.url}/engines/ps").json()
    assert entry["keep_alive"] == "10m0s"


@pytest.mark.parametrize("shared_runner", ["llama-server"], indirect=True)
def test_refused_flags_name_the_flag(shared_runner) -> None:
    runner = shared_runner
    refused = {"--model": ["--model", "x"], "--host": ["--host", "0.0.0.0"], "--port": ["--port", "1"],
               "--log-file": ["--log-file", "x"], "--chat-template": ["--chat-template", "../t.jinja"]}  # fmt: skip
    for named, flags in refused.items():
        result = runner.cli("configure", LOCAL_MODEL_TAG, "--", *flags, check=False)
        assert result.returncode == 1 and named in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_no_engine_outlives_a_runner_killed_with_sigkill(start_runner) -> None:
    # Without Linux's PDEATHSIG, as on macOS: the engine's watchdog ends it.
    runner = start_runner(**{NO_PDEATHSIG_VARIABLE: "1"})
    assert runner.complete().status_code == 200
    [engine] = runner.engine_pids()
    os.kill(runner.pid(), signal.SIGKILL)
    assert wait_until(lambda: is_gone(engine), timeout=10)


@contextlib.contextmanager
def _stand_in_runner(home: Path, gguf: Path, stand_in: Path, **environment: str) -> Iterator[Runner]:
    """A runner whose llama-server is ``stand_in`` (tests/stand_in_llama_server.py), its engine loaded."""
    environment = {"LLAMA_SERVER_PATH": str(stand_in), "COMPOSE_MODELS_LLAMA_BACKEND": "llama-server", **environment}
    with serving_runner(home, gguf, **environment) as url:
        runner = Runner(url, home, {**os.environ, "COMPOSE_MODELS_HOME": str(home), **environment})
        loaded = httpx.post(f"{url}/api/generate", json={"model": LOCAL_MODEL_TAG, "prompt": ""}, timeout=60)
        assert loaded.status_code == 200, loaded.text  # an empty prompt only loads the model
        yield runner


def _kill_watchdog_then_runner(runner: Runner) -> int:
    """What a runner's death can leave on macOS, where no PDEATHSIG stands behind the watchdog; the engine's pid."""
    [engine], [watchdog] = runner.engine_pids(), runner.watchdog_pids()
    os.kill(watchdog, signal.SIGKILL)
    runner_pid = runner.pid()
    os.kill(runner_pid, signal.SIGKILL)
    assert wait_until(lambda: is_gone(watchdog) and is_gone(runner_pid), timeout=10)
    return engine


def test_the_next_runner_ends_an_engine_that_outlived_its_runner_and_never_a_process_that_took_a_recorded_pid(
    tmp_path: Path, smollm2_gguf: Path
) -> None:
    stand_in, starts = write_stand_in(tmp_path / "stand-in", CRASH_ON_FIRST_ANSWER)
    home = tmp_path / "home"
    home.mkdir()
    with _stand_in_runner(home, smollm2_gguf, stand_in, **{NO_PDEATHSIG_VARIABLE: "1"}) as first:
        engine = _kill_watchdog_then_runner(first)
    assert engine_starts(starts) == [(engine, 0)]  # started without PDEATHSIG, as asked
    assert not is_gone(engine)  # left running, holding its memory

    records = home / "runner" / "engines"
    [record] = records.glob("engine-*.json")
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        # A record whose pid the system has since given to another process: same pid, another start and command.
        reused = json.loads(record.read_text())
        reused["engine"]["pid"] = unrelated.pid
        (records / f"engine-{unrelated.pid}.json").write_text(json.dumps(reused))

        with _stand_in_runner(home, smollm2_gguf, stand_in):  # ends leftovers before it serves
            assert wait_until(lambda: is_gone(engine), timeout=10)
            assert unrelated.poll() is None
            log = (home / "runner.log").read_text()
            assert f"ended engine pid {engine}, left running by runner pid" in log, log
            assert f"an engine record names pid {unrelated.pid}, now another process's" in log, log
            assert sorted(path.name for path in records.glob("engine-*.json")) == [
                f"engine-{pid}.json" for pid, _ in engine_starts(starts)[1:]
            ]  # the new runner's engine only
    finally:
        unrelated.kill()
        unrelated.wait()


def test_on_linux_pdeathsig_ends_an_engine_whose_watchdog_died_before_its_runner(tmp_path: Path, smollm2_gguf: Path) -> None:
    proc_dir()  # Linux only
    stand_in, starts = write_stand_in(tmp_path / "stand-in", CRASH_ON_FIRST_ANSWER)
    home = tmp_path / "home"
    home.mkdir()
    with _stand_in_runner(home, smollm2_gguf, stand_in) as runner:
        engine = _kill_watchdog_then_runner(runner)
        assert engine_starts(starts) == [(engine, signal.SIGKILL)]
        assert wait_until(lambda: is_gone(engine), timeout=10)


@pytest.mark.parametrize("backend", ["llama-cpp-python"], indirect=True)
def test_serve_options_reach_the_scheduler(packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    monkeypatch.setenv("COMPOSE_MODELS_LLAMA_BACKEND", backend)
    run_cli("serve", "--detach", "--memory-budget", "100MiB", "--keep-alive", "-1")
    try:
        state = json.loads((Path(os.environ["COMPOSE_MODELS_HOME"]) / "runner" / "state.json").read_text())
        body = {"model": packaged_smollm2, "prompt": "Hi", "max_tokens": 1}
        refused = httpx.post(f"http://127.0.0.1:{state['port']}/engines/v1/completions", json=body, timeout=60)
        assert "100.0 MiB" in refused.json()["error"]["message"]
        result = run_cli("configure", "--keep-alive=-1", packaged_smollm2, "--", "--temp", "0.3", check=False)
        assert result.returncode == 0, result.stderr
    finally:
        run_cli("stop", check=False)
