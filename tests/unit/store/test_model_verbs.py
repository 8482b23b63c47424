"""package → ls → inspect → tag → rm through the real ``compose-models`` command."""

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.unit.store.ggufs import write_gguf


def one_line(stderr: str) -> str:
    """The error message with the console's wrapping undone; a traceback fails the test."""
    assert "Traceback" not in stderr, stderr
    return " ".join(stderr.split())


def test_round_trip_through_the_cli(tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "tiny.gguf")
    license_file = tmp_path / "LICENSE"
    license_file.write_text("MIT")

    packaged = run_cli("package", "--gguf", str(gguf), "--license", str(license_file), "--context-size", "1024", "tiny")
    assert "docker.io/ai/tiny:latest" in packaged.stdout
    model_id = packaged.stdout.split()[-1]
    assert model_id.startswith("sha256:") and len(model_id) == 71

    listed = json.loads(run_cli("ls", "--json").stdout)
    assert [entry["id"] for entry in listed] == [model_id]
    assert listed[0]["tags"] == ["docker.io/ai/tiny:latest"]
    assert listed[0]["config"]["context_size"] == 1024
    assert run_cli("ls", "--json").stdout.startswith('[\n    {\n        "id": ')
    assert run_cli("ls", "-q").stdout == model_id[7:19] + "\n"
    table = run_cli("ls").stdout.splitlines()
    assert table[0].split() == ["MODEL", "NAME", "PARAMETERS", "QUANTIZATION", "ARCHITECTURE", "MODEL", "ID",
                                "CREATED", "CONTEXT", "SIZE"]  # fmt: skip
    assert table[1].split()[0] == "tiny" and model_id[7:19] in table[1]

    assert json.loads(run_cli("inspect", model_id[7:19]).stdout)["id"] == model_id
    assert "docker.io/myorg/tiny:v2" in run_cli("tag", "tiny", "myorg/tiny:v2").stdout
    assert "myorg/tiny:v2" in run_cli("ls").stdout

    conflict = run_cli("rm", model_id, check=False)
    assert conflict.returncode == 1 and "must be forced" in one_line(conflict.stderr)
    assert run_cli("rm", "myorg/tiny:v2").stdout == "Untagged: docker.io/myorg/tiny:v2\n"
    assert run_cli("rm", "tiny").stdout == f"Untagged: docker.io/ai/tiny:latest\nDeleted: {model_id}\n"
    assert run_cli("ls", "--json").stdout == "[]\n"
    assert run_cli("df").stdout.startswith("TYPE")


def test_bad_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_text("hello")
    cases = [
        (("package", "--gguf", str(tmp_path / "missing.gguf"), "ai/x"), "no such file"),
        (("package", "--gguf", str(not_gguf), "ai/x"), "is not a GGUF file"),
        (("package", "--gguf", str(not_gguf), "Bad Ref!"), "invalid model reference"),
        (("inspect", "ai/absent"), "compose-models pull ai/absent"),
        (("rm", "ai/absent"), "is not in the local store"),
    ]
    for args, message in cases:
        result = run_cli(*args, check=False)
        assert result.returncode == 1, args
        assert message in one_line(result.stderr), result.stderr
