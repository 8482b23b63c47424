"""publish → lint → validate → list with the real SmolLM2 model, a real registry and a real runner."""

import json
import os
import platform
import struct
import sys
from pathlib import Path

import pytest

from compose_models.store import ModelStore, media_types
from compose_models.store.gguf_metadata import read_gguf_config
from compose_models.store.packaging import ingest_layer, store_artifact
from compose_models.store.push import push_model
from tests.conftest import proc_dir, run_cli
from tests.integration.catalog.conftest import Catalog

SMOLLM2_NAME = "smollm2:135M-Q4_1-8k"


def one_line(text: str) -> str:
    assert "Traceback" not in text, text
    return " ".join(text.split())


def test_publish_lint_validate_and_list_smollm2(catalog: Catalog, smollm2_gguf: Path, license_file: Path) -> None:
    name = f"{catalog.org}/{SMOLLM2_NAME}"
    publish = ("catalog", "publish", "--gguf", str(smollm2_gguf), "--family", "smollm2", "--license", str(license_file))

    dry_run = run_cli(*publish, "--dry-run").stdout.splitlines()
    assert dry_run[0].startswith(f"Would push {name} (sha256:")
    assert [line.split()[0] for line in dry_run[1:]] == ["weights", "license"]
    assert run_cli("catalog", "list", "-q").stdout == ""

    published = run_cli(*publish).stdout.splitlines()
    assert published[0] == f"Published {name}"
    digest = published[1]

    assert run_cli("catalog", "lint", name).stdout == f"{name}: ok\n"

    report = json.loads(run_cli("catalog", "validate", "--json", "--max-tokens", "8", name).stdout)
    assert report["passed"] and report["failed_step"] is None and report["error"] is None
    assert report["pull_seconds"] > 0 and report["load_seconds"] > 0 and report["tokens_per_second"] > 0
    assert 0 < report["completion_tokens"] <= 8 and report["answer"].strip()
    memory = report["memory_estimate"]
    assert memory["context_size"] == 8192
    # tokens × layers × KV heads × (key, value) × head size × f16
    assert memory["kv_cache"] == 8192 * 30 * 3 * 2 * 64 * 2
    assert memory["total"] == memory["weights"] + memory["kv_cache"] and memory["weights"] > 90_000_000

    [entry] = json.loads(run_cli("catalog", "list", "--json").stdout)
    assert entry["reference"] == name and entry["id"] == digest and entry["error"] is None
    expected = {"parameters": "134.52M", "quantization": "Q4_1", "context_size": 8192, "size": "92.10MiB"}
    assert {key: entry[key] for key in expected} == expected
    table = run_cli("catalog", "list", catalog.org).stdout.splitlines()
    assert table[0].split() == ["MODEL", "PARAMETERS", "QUANTIZATION", "ARCHITECTURE", "CONTEXT", "SIZE"]
    assert table[1].split() == [name, "134.52M", "Q4_1", "llama", "8192", "92.10MiB"]
    assert run_cli("catalog", "list", "-q").stdout == f"{name}\n"


def test_a_model_without_a_license_is_not_published_and_fails_lint(catalog: Catalog, smollm2_gguf: Path) -> None:
    name = f"{catalog.org}/{SMOLLM2_NAME}"
    no_license = "license: the artifact has no license layer (the policy requires one: package with --license FILE)"

    refused = run_cli("catalog", "publish", "--gguf", str(smollm2_gguf), "--family", "smollm2", check=False)
    assert refused.returncode == 1
    assert refused.stdout == f"{name}: {no_license}\n"
    assert f"{name} was not pushed: it breaks the catalog policy" in one_line(refused.stderr)
    assert run_cli("catalog", "list", "-q").stdout == ""

    run_cli("package", "--gguf", str(smollm2_gguf), "--push", name)  # published by hand, without a license
    for where in ((), ("--remote",)):
        linted = run_cli("catalog", "lint", *where, name, check=False)
        assert (linted.returncode, linted.stdout) == (1, f"{name}: {no_license}\n")


def test_badly_named_tags_fail_lint(catalog: Catalog, smollm2_gguf: Path, license_file: Path) -> None:
    off_pattern = f"{catalog.org}/smollm2:latest"
    wrong_quantization = f"{catalog.org}/smollm2:135M-Q8_0-8k"
    for name in (off_pattern, wrong_quantization):
        run_cli("package", "--gguf", str(smollm2_gguf), "--license", str(license_file), "--push", name)

    linted = run_cli("catalog", "lint", "--remote", off_pattern, wrong_quantization, check=False)
    assert linted.returncode == 1
    assert linted.stdout.splitlines() == [
        f"{off_pattern}: name: {off_pattern} does not follow the naming pattern "
        f"<org>/<family>:<params>-<quant>[-<context>] (with <org> = {catalog.org})",
        f"{wrong_quantization}: name: the tag says quantization Q8_0 but the model's metadata gives Q4_1",
    ]


def test_a_gguf_llama_cpp_cannot_load_fails_validate_at_the_load_step(
    catalog: Catalog, smollm2_gguf: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.gguf"
    data = smollm2_gguf.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    name = f"{catalog.org}/broken:135M-Q4_1-8k"
    store = ModelStore.default()
    # The config of the whole file: the artifact looks right, but half of the tensor data is missing.
    store_artifact(store, read_gguf_config(smollm2_gguf), [ingest_layer(store, truncated, media_types.GGUF)], name)
    push_model(store, name)
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    result = run_cli("catalog", "validate", "--json", name, check=False, env={**os.environ, "TMPDIR": str(scratch)})
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["passed"], report["failed_step"]) == (False, "load")
    assert report["pull_seconds"] > 0 and report["load_seconds"] is None and report["answer"] is None
    assert report["error"].startswith(f"the runner could not load {name}: HTTP ")
    assert f"validate {name} failed at the load step: the runner could not load" in one_line(result.stderr)
    assert list(scratch.iterdir()) == [], "the temporary store is removed"
    assert _processes_with_home_under(scratch) == [], "the runner and its engines are stopped"


@pytest.mark.skipif(sys.platform == "darwin" and platform.machine() == "arm64", reason="MLX runs here")
def test_an_mlx_model_is_published_but_validated_only_where_mlx_runs(
    catalog: Catalog, tmp_path: Path, license_file: Path
) -> None:
    model_directory = tmp_path / "tiny-mlx"
    model_directory.mkdir()
    header = {"__metadata__": {"format": "mlx", "architecture": "llama"},
              "weight": {"dtype": "BF16", "shape": [2, 4], "data_offsets": [0, 16]}}  # fmt: skip
    raw_header = json.dumps(header).encode()
    (model_directory / "model.safetensors").write_bytes(struct.pack("<Q", len(raw_header)) + raw_header + bytes(16))
    (model_directory / "config.json").write_text('{"max_position_embeddings": 4096}')
    name = f"{catalog.org}/tiny-mlx:8-BF16-4k"
    published = run_cli(
        "catalog", "publish", "--safetensors-dir", str(model_directory), "--family", "tiny-mlx",
        "--license", str(license_file),
    )  # fmt: skip
    assert published.stdout.splitlines()[0] == f"Published {name}"

    assert run_cli("catalog", "list", "-q", "--format", "safetensors").stdout == f"{name}\n"
    assert run_cli("catalog", "list", "-q", "--format", "gguf").stdout == ""

    result = run_cli("catalog", "validate", name, check=False)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == f"validate {name}: FAILED at the load step"
    message = one_line(result.stderr)
    assert f"validate {name} failed at the load step: {name} is an MLX (safetensors) model" in message
    assert f"MLX is not available on this platform ({sys.platform} {platform.machine()})" in message


def _processes_with_home_under(directory: Path) -> list[int]:
    """Processes whose COMPOSE_MODELS_HOME lies under ``directory`` (the runner and engines inherit it)."""
    marker = f"COMPOSE_MODELS_HOME={directory}".encode()
    found = []
    for environ in proc_dir().glob("[0-9]*/environ"):
        try:
            if any(entry.startswith(marker) for entry in environ.read_bytes().split(b"\0")):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found
