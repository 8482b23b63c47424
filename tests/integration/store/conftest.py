"""Real OCI registries for the store tests: Debian's ``docker-registry`` (CNCF distribution) on loopback."""

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.integration.store.local_registry import REGISTRY_BINARY, running_registry
from tests.integration.store.token_server import token_server

with warnings.catch_warnings():  # deprecated, but libxcrypt's bcrypt is what htpasswd files need
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

USER, PASSWORD = "tester", "s3cret"


def _start_registry(directory: Path, auth: str = "") -> Iterator[str]:
    require(Path(REGISTRY_BINARY).is_file(), f"{REGISTRY_BINARY} (apt-get install docker-registry)", linux_only=True)
    with running_registry(directory, auth) as address:
        yield address


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of an anonymous registry."""
    yield from _start_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry that wants ``tester`` / ``s3cret`` (htpasswd, bcrypt)."""
    directory = tmp_path_factory.mktemp("auth-registry")
    htpasswd = directory / "htpasswd"
    htpasswd.write_text(f"{USER}:{crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}\n")
    auth = f"auth:\n  htpasswd:\n    realm: test-realm\n    path: {htpasswd}\n"
    yield from _start_registry(directory, auth)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry that wants bearer tokens from a token server (for ``tester`` / ``s3cret``)."""
    require(shutil.which("openssl") is not None, "openssl (apt-get install openssl)")
    directory = tmp_path_factory.mktemp("token-registry")
    with token_server(directory, USER, PASSWORD) as tokens:
        yield from _start_registry(directory, tokens.registry_auth())


@pytest.fixture
def skopeo() -> str:
    path = shutil.which("skopeo")
    require(path is not None, "skopeo (apt-get install skopeo)", linux_only=True)
    return str(path)
