"""Editing cliPluginsExtraDirs of the Docker CLI's config.json: atomic, reversible, and refusing what it cannot read."""

import json
import os
import stat
from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.integrations.docker_config import put_first, take_out, takeover_dir


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    (tmp_path / "docker-config").mkdir()
    return tmp_path / "docker-config" / "config.json"


def test_a_symlinked_config_stays_a_symlink_keeps_its_mode_and_comes_back_byte_for_byte(config: Path) -> None:
    """Dotfile managers link config.json elsewhere: the edit goes to the file it points at."""
    real = config.parent / "dotfiles-config.json"
    original = b'{\n\t"cliPluginsExtraDirs": [\n\t\t"/Applications/Docker.app/Contents/Resources/cli-plugins"\n\t]\n}'
    real.write_bytes(original)
    real.chmod(0o640)
    config.symlink_to(real)

    put_first(takeover_dir())
    assert config.is_symlink() and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert json.loads(real.read_text())["cliPluginsExtraDirs"] == [
        str(takeover_dir()), "/Applications/Docker.app/Contents/Resources/cli-plugins"
    ]
    assert "\n\t\"cliPluginsExtraDirs\"" in real.read_text()  # the file's own indent
    assert sorted(path.name for path in config.parent.iterdir()) == ["config.json", "dotfiles-config.json"]  # no temp left

    take_out(takeover_dir())
    assert config.is_symlink() and real.read_bytes() == original


def test_a_config_we_created_is_removed_and_a_key_we_added_is_dropped(config: Path) -> None:
    put_first(takeover_dir())
    assert json.loads(config.read_text()) == {"cliPluginsExtraDirs": [str(takeover_dir())]}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    take_out(takeover_dir())
    assert not config.exists()

    config.write_text('{"auths": {}}')
    put_first(takeover_dir())
    config.write_text(json.dumps({**json.loads(config.read_text()), "credsStore": "desktop"}))  # changed since
    take_out(takeover_dir())
    assert json.loads(config.read_text()) == {"auths": {}, "credsStore": "desktop"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "expected a JSON object at the top level, got list"),
        ('{"cliPluginsExtraDirs": "/opt/plugins"}', 'cliPluginsExtraDirs: expected a list of folder names (strings), got "/opt/plugins"'),
    ],
)
def test_a_config_it_cannot_read_is_named_and_left_alone(config: Path, content: str, message: str) -> None:
    config.write_text(content)
    with pytest.raises(UserError, match=str(config).replace(".", r"\.")) as error:
        put_first(takeover_dir())
    assert message in str(error.value)
    assert config.read_text() == content
    assert not any(name.endswith(".tmp") for name in os.listdir(config.parent))
