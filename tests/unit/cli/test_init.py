"""``compose-models init``: the stack it writes, and what it refuses."""

from pathlib import Path

from ruamel.yaml import YAML

from tests.conftest import run_cli

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
