"""Building the config blob, layer descriptors and manifest of a model artifact, byte for byte as DMR.

Field orders follow DMR's Go structs (reference §3.2, §3.5, §3.6); digests of what we build are then
the digests Docker Model Runner would compute for the same inputs.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_models.store import media_types
from compose_models.store.gojson import go_marshal, sorted_map
from compose_models.units import rfc3339_nano

_CONFIG_FIELDS = (
    "format", "quantization", "parameters", "architecture", "size",
    "gguf", "safetensors", "diffusers", "context_size", "modelfile",
)  # fmt: skip
# ``modelfile``: the settings an Ollama create gave the model (see store/create.py); not Docker Model
# Runner's, whose Go struct ignores it when reading
_MAP_FIELDS = ("gguf", "safetensors", "diffusers", "modelfile")


@dataclass(frozen=True)
class Layer:
    """One file of the artifact: its descriptor fields and where its bytes are."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str]

    def descriptor(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"mediaType": self.media_type, "size": self.size, "digest": self.digest}
        if self.annotations:
            entry["annotations"] = sorted_map(self.annotations)
        return entry

    @classmethod
    def from_descriptor(cls, descriptor: dict[str, Any]) -> "Layer":
        return cls(
            descriptor["mediaType"], descriptor["digest"], int(descriptor["size"]), descriptor.get("annotations", {})
        )


def file_annotations(path: Path, relative_path: str | None = None) -> dict[str, str]:
    """The three ``org.cncf.model.*`` annotations DMR's builder puts on every file layer."""
    status = path.stat()
    metadata = {
        "name": path.name,
        "mode": status.st_mode & 0o777,
        "uid": 0,
        "gid": 0,
        "size": status.st_size,
        "mtime": rfc3339_nano(status.st_mtime_ns),
        "typeflag": 0,
    }
    return {
        media_types.ANNOTATION_FILEPATH: (relative_path or path.name).replace(os.sep, "/"),
        media_types.ANNOTATION_FILE_METADATA: go_marshal(metadata).decode(),
        media_types.ANNOTATION_MEDIATYPE_UNTESTED: "false",
    }


def ordered_config(config: dict[str, Any]) -> dict[str, Any]:
    """DMR's ``types.Config`` in field order, empty fields omitted, maps sorted."""
    ordered: dict[str, Any] = {}
    for name in _CONFIG_FIELDS:
        value = config.get(name)
        if value is None or value == "" or (name in _MAP_FIELDS and not value):
            continue
        ordered[name] = sorted_map(value) if name in _MAP_FIELDS else value
    return ordered


def config_blob(config: dict[str, Any], created: str | None, diff_ids: list[str]) -> bytes:
    """The Docker-format config file: ``{"config":…,"descriptor":{"created":…},"rootfs":{…}}``."""
    descriptor = {"created": created} if created else {}
    return go_marshal(
        {
            "config": ordered_config(config),
            "descriptor": descriptor,
            "rootfs": {"type": "rootfs", "diff_ids": diff_ids},
        }
    )


def new_config_blob(config: dict[str, Any], layers: list[Layer], created: str | None = None) -> bytes:
    """A config for a freshly built artifact: created now (or then), one diff ID per (uncompressed) layer."""
    return config_blob(config, created or rfc3339_nano(), [layer.digest for layer in layers])


def manifest_bytes(
    config_digest: str,
    config_size: int,
    layers: list[Layer],
    config_media_type: str = media_types.CONFIG_V01,
    artifact_type: str | None = None,
) -> bytes:
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_types.OCI_MANIFEST}
    if artifact_type:
        manifest["artifactType"] = artifact_type
    manifest["config"] = {"mediaType": config_media_type, "size": config_size, "digest": config_digest}
    manifest["layers"] = [layer.descriptor() for layer in layers]
    return go_marshal(manifest)
