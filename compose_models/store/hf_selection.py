"""Which files of a Hugging Face repository make the model, chosen as Docker Model Runner does (§3.11).

Weights (``*.gguf``, ``*.safetensors``) and configs are kept; licenses, DDUF and anything else are
not. In a GGUF repository the tag picks the quantisation (``latest``/``main``/empty → Q4_K_M), all
shards of it are taken, and a multimodal projector is set aside (an F16 one preferred).
"""

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from compose_models.store.errors import InvalidArtifact

DEFAULT_QUANTIZATION = "Q4_K_M"
_DEFAULT_TAGS = ("", "latest", "main")
_LICENSE_WORDS = ("license", "licence", "copying", "notice")
_CONFIG_SUFFIXES = (".md", ".txt", ".json", ".vocab")
_SHARD = re.compile(r"-\d{5}-of-")


@dataclass(frozen=True)
class RepoFile:
    path: str
    size: int
    sha256: str | None = None  # known for files stored in Git LFS

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


@dataclass(frozen=True)
class HfSelection:
    weights: list[RepoFile]
    configs: list[RepoFile]
    mmproj: RepoFile | None = None

    @property
    def is_gguf(self) -> bool:
        return self.weights[0].name.lower().endswith(".gguf")

    @property
    def chat_template(self) -> RepoFile | None:
        """The first template-like config: ``*.jinja``, a ``chat_template`` name, or ``tokenizer_config.json``."""
        return next((file for file in self.configs if _is_chat_template(file.name)), None)

    @property
    def files(self) -> list[RepoFile]:
        return [*self.weights, *self.configs, *([self.mmproj] if self.mmproj else [])]


def select_files(repo_files: list[RepoFile], tag: str, repository: str) -> HfSelection:
    """The files to download for ``repository:tag``; InvalidArtifact when the repository holds no weights."""
    top_level = [file for file in repo_files if "/" not in file.path]
    weights, configs = _split(top_level)
    if not weights and tag not in _DEFAULT_TAGS:  # some repos keep each quantisation in a folder named after it
        folder = [file for file in repo_files if PurePosixPath(file.path).parent.as_posix().lower() == tag.lower()]
        weights, configs = _split(folder)
    if not weights:
        raise InvalidArtifact(f"no model weight files (GGUF or safetensors) found in Hugging Face repository {repository}")
    weights = sorted(weights, key=lambda file: file.path)
    configs = sorted(configs, key=lambda file: file.path)
    ggufs = [file for file in weights if file.name.lower().endswith(".gguf")]
    if len(ggufs) <= 1:
        return HfSelection(ggufs or weights, configs)
    models = [file for file in ggufs if "mmproj" not in file.name.lower()]
    projectors = [file for file in ggufs if "mmproj" in file.name.lower()]
    mmproj = next((file for file in projectors if "f16" in file.name.lower()), projectors[0] if projectors else None)
    return HfSelection(_choose_quantization(models, tag), configs, mmproj)


def _split(repo_files: list[RepoFile]) -> tuple[list[RepoFile], list[RepoFile]]:
    weights, configs = [], []
    for file in repo_files:
        kind = _classify(file.name)
        if kind == "weights":
            weights.append(file)
        elif kind == "config":
            configs.append(file)
    return weights, configs


def _classify(name: str) -> str:
    lower = name.lower()
    if lower.endswith((".gguf", ".safetensors")):
        return "weights"
    if _is_chat_template(name):
        return "config"
    if any(word in lower for word in _LICENSE_WORDS):
        return "skipped"
    return "config" if lower.endswith(_CONFIG_SUFFIXES) or lower == "tokenizer.model" else "skipped"


def _is_chat_template(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(".jinja") or "chat_template" in lower or name == "tokenizer_config.json"


def _choose_quantization(models: list[RepoFile], tag: str) -> list[RepoFile]:
    if len(models) <= 1:
        return models
    for quantization in (tag, DEFAULT_QUANTIZATION):
        matching = [file for file in models if quantization not in _DEFAULT_TAGS and _has_quantization(file.name, quantization)]
        if matching:
            return matching
    first = min(models, key=lambda file: file.name)
    shard = _SHARD.search(first.name)
    if not shard:
        return [first]
    prefix = first.name[: shard.start()]
    return [file for file in models if file.name.startswith(prefix) and _SHARD.search(file.name)]


def _has_quantization(name: str, quantization: str) -> bool:
    """``[-._]<quant>`` at the end of the name (less ``.gguf``) or followed by ``-``, ``.`` or ``_``."""
    stem = name.lower().removesuffix(".gguf")
    pattern = rf"[-._]{re.escape(quantization.lower())}(?:$|[-._])"
    return re.search(pattern, stem) is not None
