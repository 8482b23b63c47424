"""The embedded SmolLM2 GGUF packages with what its header says."""

from pathlib import Path

from compose_models.store import ModelStore, package_gguf


def test_smollm2_packages_with_its_header_values(smollm2_gguf: Path, tmp_path: Path) -> None:
    model = package_gguf(ModelStore(tmp_path / "store"), smollm2_gguf, "local/smollm2:135m-q4_1")
    assert model.tags == ("docker.io/local/smollm2:135m-q4_1",)
    assert model.context_size == 8192
    config = model.config
    assert (config["quantization"], config["parameters"], config["architecture"]) == ("Q4_1", "134.52M", "llama")
    assert config["size"] == "92.10MiB"  # tensor bytes, as gguf-parser-go's ModelSize counts them
    assert config["gguf"]["general.file_type"] == "3"
    assert "tokenizer.ggml.tokens" not in config["gguf"]
    assert model.gguf_paths[0].stat().st_size == smollm2_gguf.stat().st_size
