"""``compose-models init``: the stack it writes, and what it refuses."""

from pathlib import Path, PurePath

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO, run_cli

TEMPLATES = {"chat", "rag", "agent", "gateway", "provider"}


def test_list_names_every_template_with_its_model_slots() -> None:
    listed = run_cli("init", "--list").stdout
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert names == TEMPLATES
    assert "models: " in listed


def test_writes_the_stack_with_the_chosen_model_and_keeps_the_other_defaults(tmp_path: Path) -> None:
    default_slots = YAML(typ="safe").load(_write(tmp_path / "default", "rag").read_text())["models"]
    slot = sorted(default_slots)[0]
    compose = _write(tmp_path / "chosen", "rag", "--model", f"{slot}=registry.example.com/team/llm:1")
    models = YAML(typ="safe").load(compose.read_text())["models"]
    assert models[slot]["model"] == "registry.example.com/team/llm:1"
    assert {other: models[other] for other in models if other != slot} == {
        other: default_slots[other] for other in default_slots if other != slot
    }
    written = {path.relative_to(compose.parent).as_posix() for path in compose.parent.rglob("*") if path.is_file()}
    assert {"compose.yaml", "README.md"} <= written and any(path.endswith("Dockerfile") for path in written)
    assert "template.yaml" not in written


def test_refuses_to_overwrite_a_file_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "stack"
    folder.mkdir()
    (folder / "README.md").write_text("the team's own notes")
    refused = run_cli("init", "chat", str(folder), check=False)
    assert refused.returncode == 1
    assert "would overwrite" in refused.stderr and "README.md" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (folder / "README.md").read_text() == "the team's own notes"
    assert [path.name for path in folder.iterdir()] == ["README.md"]


def test_bad_input_is_named(tmp_path: Path) -> None:
    unknown = run_cli("init", "nonesuch", str(tmp_path / "a"), check=False)
    assert unknown.returncode == 1 and "no template named 'nonesuch'" in unknown.stderr
    bad_slot = run_cli("init", "chat", str(tmp_path / "b"), "--model", "nonesuch=ai/smollm2", check=False)
    assert bad_slot.returncode == 1 and "no model slot 'nonesuch'" in bad_slot.stderr
    no_reference = run_cli("init", "chat", str(tmp_path / "c"), "--model", "llm", check=False)
    assert no_reference.returncode == 1 and "expected SLOT=REFERENCE" in no_reference.stderr
    assert not any((tmp_path / name).exists() for name in "abc")


def _write(folder: Path, template: str, *options: str) -> Path:
    run_cli("init", template, str(folder), *options)
    return folder / "compose.yaml"


WELL_KNOWN_KEYS = {"sk-example-admin", "sk-example-app", "sk-example", "sk-no-key-required", "sk-test"}


def test_the_gateway_stack_gets_random_keys_shown_once_and_no_well_known_one(tmp_path: Path) -> None:
    from compose_models.gateway.keys import parse_keys

    stacks = []
    for name in ("one", "two"):
        shown = run_cli("init", "gateway", str(tmp_path / name)).stdout
        folder = tmp_path / name
        keys_file = parse_keys((folder / "api-keys").read_text().splitlines(), "api-keys")
        printed = dict(line.strip().split(": ") for line in shown.split("Its API keys", 1)[1].splitlines()[1:])
        assert set(printed) == {"app", "admin"}
        assert (folder / ".env").read_text().splitlines()[-1] == f"APP_API_KEY={printed['app']}"
        assert (folder / ".env").stat().st_mode & 0o077 == 0
        assert {"/api-keys", "/.env"} <= set((folder / ".gitignore").read_text().splitlines())
        for key in printed.values():
            assert key in (folder / "api-keys").read_text() and len(key) >= 40
        assert keys_file.name_of(printed["app"]) == "app" and keys_file.is_admin(printed["admin"])
        stacks.append(printed)
    made = [key for printed in stacks for key in printed.values()]
    assert len(set(made)) == 4 and not WELL_KNOWN_KEYS & set(made)
    # No key is in the files every copy of the template shares: compose.yaml reads the app's from .env.
    compose = (tmp_path / "one" / "compose.yaml").read_text()
    assert "${APP_API_KEY" in compose and not any(key in compose for key in made)
    for path in (REPO / "compose_models/templates").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert "sk-example" not in path.read_text(errors="replace"), path


def test_a_planted_symlink_is_refused_by_name_and_nothing_is_written_through_it(tmp_path: Path) -> None:
    """A cloned repository's `chat/README.md` -> a file of the user's outside it, dangling until written."""
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "stack"
    folder.mkdir()
    (folder / "README.md").symlink_to(outside / "owned")
    refused = run_cli("init", "chat", str(folder), check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"{folder / 'README.md'}: a symbolic link" in refused.stderr
    assert not (outside / "owned").exists() and sorted(path.name for path in folder.iterdir()) == ["README.md"]

    (folder / "README.md").unlink()
    (folder / "web").symlink_to(outside)  # a folder of the stack, linked elsewhere
    refused = run_cli("init", "chat", str(folder), check=False)
    assert refused.returncode == 1 and f"{folder / 'web'}: a symbolic link" in refused.stderr
    assert list(outside.iterdir()) == [] and sorted(path.name for path in folder.iterdir()) == ["web"]

    linked = tmp_path / "linked-stack"
    linked.symlink_to(outside)
    refused = run_cli("init", "chat", str(linked), check=False)
    assert refused.returncode == 1 and f"{linked}: a symbolic link" in refused.stderr
    assert list(outside.iterdir()) == []


def test_a_link_that_appears_while_init_writes_is_not_followed(tmp_path: Path) -> None:
    """Check, then write: a link planted after the check is still not written through (O_EXCL|O_NOFOLLOW)."""
    from compose_models.errors import UserError
    from compose_models.templates.no_follow import create_file, opened_folder

    outside = tmp_path / "outside"
    folder = tmp_path / "stack"
    with opened_folder(folder) as root:
        (folder / "sub").mkdir()
        (folder / "sub" / "file").symlink_to(outside)
        with pytest.raises(UserError, match="a symbolic link appeared there"):
            create_file(root, folder, PurePath("sub/file"), b"data", 0o644)
        (folder / "dir").symlink_to(tmp_path)
        with pytest.raises(UserError, match=f"{folder / 'dir'}: is a symbolic link"):
            create_file(root, folder, PurePath("dir/file"), b"data", 0o644)
    assert not outside.exists() and not (tmp_path / "file").exists()
