"""A model held in the store: its ID, tags, manifest and config, and the paths of its files."""

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from compose_models.store import media_types
from compose_models.store.artifact import Layer, ordered_config
from compose_models.store.reference import listed_name
from compose_models.units import gguf_size, parse_rfc3339_seconds

_GGUF_WEIGHTS = (media_types.GGUF, media_types.CNCF_WEIGHT_GGUF)


@dataclass(frozen=True)
class StoredModel:
    id: str
    tags: tuple[str, ...]
    manifest: dict[str, Any]
    raw_config: bytes
    blobs_directory: Path

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]

    @cached_property
    def config_file(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.raw_config))

    @property
    def config_media_type(self) -> str:
        return cast(str, self.manifest["config"]["mediaType"])

    @property
    def is_cncf(self) -> bool:
        return self.config_media_type == media_types.CONFIG_CNCF

    @cached_property
    def layers(self) -> list[Layer]:
        return [Layer.from_descriptor(descriptor) for descriptor in self.manifest.get("layers", [])]

    @cached_property
    def config(self) -> dict[str, Any]:
        """The inner config in DMR's Docker shape; CNCF configs are converted into it."""
        if not self.is_cncf:
            return ordered_config(self.config_file.get("config") or {})
        cncf = self.config_file.get("config") or {}
        weights = sum(layer.size for layer in self.layers if _is_weight(layer))
        return ordered_config(
            {
                "format": cncf.get("format", ""),
                "quantization": cncf.get("quantization", ""),
                "parameters": cncf.get("paramSize", ""),
                "architecture": cncf.get("architecture", ""),
                "size": gguf_size(weights) if weights else "",
            }
        )

    @property
    def created(self) -> int:
        descriptor = self.config_file.get("descriptor") or {}
        stamp = descriptor.get("createdAt" if self.is_cncf else "created")
        return parse_rfc3339_seconds(stamp) if isinstance(stamp, str) else 0

    @property
    def context_size(self) -> int | None:
        value = self.config.get("context_size")
        return value if isinstance(value, int) and value > 0 else None

    @property
    def size(self) -> int:
        """Bytes of all layers (the model's files, not counting config and manifest)."""
        return sum(layer.size for layer in self.layers)

    def blob_path(self, layer: Layer) -> Path:
        return self.blobs_directory / layer.digest.removeprefix("sha256:")

    @property
    def gguf_paths(self) -> list[Path]:
        """The GGUF weight blobs in shard order; llama.cpp is given the first."""
        return [self.blob_path(layer) for layer in self.layers if _is_gguf_weight(layer)]

    def paths_of(self, media_type: str) -> list[Path]:
        return [self.blob_path(layer) for layer in self.layers if layer.media_type == media_type]

    @property
    def mmproj_path(self) -> Path | None:
        cncf = [self.blob_path(layer) for layer in self.layers if _cncf_file(layer, media_types.CNCF_WEIGHT_RAW, "mmproj")]
        return next(iter(self.paths_of(media_types.MMPROJ) + cncf), None)

    @property
    def chat_template_path(self) -> Path | None:
        cncf = [self.blob_path(layer) for layer in self.layers if _cncf_file(layer, media_types.CNCF_WEIGHT_CONFIG, ".jinja")]
        return next(iter(self.paths_of(media_types.CHAT_TEMPLATE) + cncf), None)

    def to_dmr_json(self) -> dict[str, Any]:
        """The ``GET /models`` entry (and one element of ``ls --json``)."""
        entry: dict[str, Any] = {"id": self.id}
        if self.tags:
            entry["tags"] = list(self.tags)  # as stored, as Docker Model Runner gives them (Compose and `docker model` read these)
        entry["created"] = self.created
        entry["config"] = self.config
        return entry

    def openai_entry(self) -> dict[str, Any]:
        """The ``GET /engines/v1/models`` ``data`` element."""
        details = {
            "context_window": self.context_size,
            "architecture": self.config.get("architecture"),
            "parameters": self.config.get("parameters"),
            "quantization": self.config.get("quantization"),
            "size": self.config.get("size"),
        }
        return {
            "id": listed_name(self.tags[0]) if self.tags else self.id,
            "object": "model",
            "created": self.created,
            "owned_by": "docker",
            "dmr": {key: value for key, value in details.items() if value},
        }


def _is_gguf_weight(layer: Layer) -> bool:
    if layer.media_type in _GGUF_WEIGHTS:
        return True
    path = layer.annotations.get(media_types.ANNOTATION_FILEPATH, "")
    return layer.media_type == media_types.CNCF_WEIGHT_RAW and path.endswith(".gguf") and "mmproj" not in path


def _cncf_file(layer: Layer, media_type: str, path_part: str) -> bool:
    """A CNCF layer of this type whose file path contains ``path_part`` (CNCF types say no more about a file)."""
    return layer.media_type == media_type and path_part in layer.annotations.get(media_types.ANNOTATION_FILEPATH, "")


def _is_weight(layer: Layer) -> bool:
    return _is_gguf_weight(layer) or layer.media_type in (
        media_types.SAFETENSORS,
        media_types.CNCF_WEIGHT_SAFETENSORS,
        media_types.CNCF_WEIGHT_RAW,
        media_types.DDUF,
    )
