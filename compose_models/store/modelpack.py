"""Writing CNCF ModelPack artifacts (``package --format cncf``) as Docker Model Runner converts to them.

Each layer keeps its bytes and annotations but takes a CNCF raw media type by its role (weights,
weight config, documentation); the config blob is ModelPack's ``{"descriptor","modelfs","config"}``
with the Docker config's architecture, format, parameters and quantisation (no context size).
"""

from dataclasses import replace
from typing import Any

from compose_models.store import media_types
from compose_models.store.artifact import Layer
from compose_models.store.gojson import go_marshal

_WEIGHTS = (media_types.GGUF, media_types.SAFETENSORS, media_types.DDUF, media_types.MMPROJ)
_CONFIG_FIELDS = (("architecture", "architecture"), ("format", "format"), ("paramSize", "parameters"),
                  ("quantization", "quantization"))  # fmt: skip


def cncf_layer(layer: Layer) -> Layer:
    """The same file under its CNCF media type: weights, documentation (licenses), or weight config."""
    if layer.media_type in _WEIGHTS:
        return replace(layer, media_type=media_types.CNCF_WEIGHT_RAW)
    if layer.media_type == media_types.LICENSE:
        return replace(layer, media_type=media_types.CNCF_DOC)
    return replace(layer, media_type=media_types.CNCF_WEIGHT_CONFIG)


def cncf_config_blob(config: dict[str, Any], created: str, diff_ids: list[str]) -> bytes:
    """ModelPack's config for a Docker-shaped ``config``; ``paramSize`` is the parameters in lower case."""
    descriptor: dict[str, Any] = {"createdAt": created}
    if config.get("architecture"):
        descriptor["family"] = config["architecture"]  # DMR's closest ModelPack field for it
    values = {name: str(config.get(source) or "") for name, source in _CONFIG_FIELDS}
    values["paramSize"] = values["paramSize"].lower()
    return go_marshal(
        {
            "descriptor": descriptor,
            "modelfs": {"type": "layers", "diffIds": diff_ids},
            "config": {name: value for name, value in values.items() if value},
        }
    )
