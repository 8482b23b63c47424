"""Content-addressed blobs under ``blobs/sha256/<hex>``; partial downloads live in ``<hex>.incomplete``."""

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from compose_models.atomic_file import replace_file
from compose_models.store.errors import DigestMismatch, InvalidReference
from compose_models.store.leftovers import temporary_prefix

CHUNK_SIZE = 1 << 20
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_hex(digest: str) -> str:
    """The hex part of a ``sha256:`` digest; refuses anything else so it is safe as a file name."""
    match = _DIGEST.fullmatch(digest)
    if not match:
        raise InvalidReference(f"invalid blob digest {digest!r}: expected sha256:<64 lower-case hex characters>")
    return match[1]


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.directory = root / "blobs" / "sha256"

    def path(self, digest: str) -> Path:
        return self.directory / digest_hex(digest)

    def incomplete_path(self, digest: str) -> Path:
        return self.directory / f"{digest_hex(digest)}.incomplete"

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def write_bytes(self, data: bytes) -> str:
        digest = sha256_digest(data)
        if not self.has(digest):
            replace_file(self.path(digest), data, 0o644)
        return digest

    def read_bytes(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def ingest_file(self, source: Path) -> tuple[str, int]:
        """Add a file as a blob, reading it once; returns (digest, size).

        The file is hard-linked under a temporary name (or, across file systems, copied while
        hashing), then renamed to its digest. An existing blob is left as it is.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary_name = tempfile.mkstemp(dir=self.directory, prefix=temporary_prefix("ingest"))
        os.close(descriptor)
        temporary = Path(temporary_name)
        try:
            temporary.unlink()
            try:
                os.link(source, temporary)
                digest, size = _hash_file(temporary)
            except OSError:
                digest, size = _copy_and_hash(source, temporary)
            if self.has(digest):
                temporary.unlink()
            else:
                os.replace(temporary, self.path(digest))
            return digest, size
        finally:
            temporary.unlink(missing_ok=True)

    def upload(self, digest: str) -> "BlobUpload":
        """A writer for a blob sent in pieces (an HTTP body), kept only if its bytes have ``digest``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return BlobUpload(self.path(digest), digest)

    def remove(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def total_size(self) -> int:
        if not self.directory.is_dir():
            return 0
        return sum(entry.stat().st_size for entry in self.directory.iterdir() if entry.is_file())


class BlobUpload:
    """Bytes written to a temporary file beside the blob while they are hashed; ``finish`` renames it to
    the blob if the digest matches, ``abort`` (or leaving the ``with`` block by an error) deletes it."""

    def __init__(self, target: Path, digest: str) -> None:
        self.target = target
        self.digest = digest
        self.size = 0
        self._hash = hashlib.sha256()
        descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=temporary_prefix("upload"))
        self._temporary = Path(name)
        self._file = os.fdopen(descriptor, "wb")

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._file.write(chunk)
        self.size += len(chunk)

    def finish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self.digest:
            self.abort()
            raise DigestMismatch(f"digest mismatch: the body's digest is {actual}, not {self.digest}")
        os.chmod(self._temporary, 0o644)
        os.replace(self._temporary, self.target)

    def abort(self) -> None:
        try:
            self._file.close()  # flushes what is buffered, which fails again on a full disk
        except OSError:
            pass
        finally:
            self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> "BlobUpload":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._temporary.exists():
            self.abort()


def _hash_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256")
        return "sha256:" + digest.hexdigest(), file.tell()


def _copy_and_hash(source: Path, destination: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as reader, destination.open("wb") as writer:
        while chunk := reader.read(CHUNK_SIZE):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copymode(source, destination)
    return "sha256:" + digest.hexdigest(), size
