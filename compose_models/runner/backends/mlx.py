"""MLX through mlx-lm's OpenAI server, for safetensors (MLX) models on macOS with Apple silicon only."""

import importlib.metadata
import importlib.util
import platform
import sys
from pathlib import Path, PurePosixPath
from typing import Protocol

from compose_models.runner.backends.process import ProcessEngine

NAME = "mlx"
_FILEPATH_ANNOTATIONS = ("org.cncf.model.filepath", "org.opencontainers.image.title")


def platform_supported() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


def installed() -> bool:
    return importlib.util.find_spec("mlx_lm") is not None


def unavailable_reason() -> str | None:
    """Why MLX cannot run here, or None when it can."""
    if not platform_supported():
        return f"MLX is not available on this platform ({sys.platform} {platform.machine()}): it needs macOS on Apple silicon"
    if not installed():
        return "MLX is not installed: run `pip install mlx-lm` in compose-models' environment"
    return None


def version() -> str:
    return importlib.metadata.version("mlx-lm")


class _Layer(Protocol):
    digest: str
    annotations: dict[str, str]


def bundle(layers: list[_Layer], blobs: Path, bundle_dir: Path) -> Path:
    """A directory of the artifact's files under their own names (symlinks into the store), as mlx-lm loads them."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        name = next((layer.annotations[key] for key in _FILEPATH_ANNOTATIONS if key in layer.annotations), None)
        relative = PurePosixPath(name) if name else None
        if relative is None or relative.is_absolute() or ".." in relative.parts:
            continue
        link = bundle_dir / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(blobs / layer.digest.removeprefix("sha256:"))
    return bundle_dir


class MlxEngine(ProcessEngine):
    """mlx-lm's server has no API key option (checked against mlx-lm's main branch, 2026-08): this
    engine answers anyone on the machine who finds its loopback port. The runner sends the key anyway."""

    health_path = "/v1/models"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "mlx_lm.server",
            "--model", str(self.spec.model_path),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            *self.spec.arguments,
        ]  # fmt: skip
