"""``HEAD`` and ``POST /api/blobs/sha256:<hex>``: whether the store has a blob, and uploading one (the
files of ``/api/create``), streamed to disk while it is hashed and kept only if the digest matches.

The digest is checked before anything touches the file system (it becomes the blob's file name). An
upload must leave ``RESERVED_BYTES`` free on the store's disk: a body declared larger is refused before
it is read, and one that grows past that is stopped.
"""

import asyncio
import re
import shutil

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from compose_models.runner.http.disconnect import mark_body_read
from compose_models.runner.http.errors import ApiError, storage_failure
from compose_models.runner.services import services_of
from compose_models.store.blobs import BlobUpload, DigestMismatch
from compose_models.store.store import ModelStore

_DIGEST = re.compile(r"sha256[:-]([0-9a-fA-F]{64})")
RESERVED_BYTES = 1 << 30  # left free for the store's manifests, the index and everything else on the disk
CHECK_ROOM_EVERY_BYTES = 64 << 20


def store_digest(text: str) -> str | None:
    """``text`` (``sha256:<hex>`` or Ollama's ``sha256-<hex>``) as the store names blobs; None if not one."""
    match = _DIGEST.fullmatch(text)
    return f"sha256:{match[1].lower()}" if match else None


def blob_digest(request: Request) -> str:
    """The path's digest, as the store names blobs; 400 for anything else."""
    text = request.path_params["digest"]
    digest = store_digest(text)
    if digest is None:
        raise ApiError(400, f"invalid digest {text[:100]!r}: expected sha256:<64 hex characters>")
    return digest


async def has_blob(request: Request) -> Response:
    digest = blob_digest(request)
    store: ModelStore = services_of(request).store
    if not store.blobs.has(digest):
        raise ApiError(404, f"blob {digest} not found")
    return Response(status_code=200)


async def upload_blob(request: Request) -> Response:
    """201 once stored; 200 without reading the body if the store already has the blob."""
    digest = blob_digest(request)
    store: ModelStore = services_of(request).store
    if store.blobs.has(digest):
        return Response(status_code=200)
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        _check_room(store, int(declared))
    try:
        with store.blobs.upload(digest) as upload:
            await _receive(request, upload, store)
            try:
                await asyncio.to_thread(upload.finish)  # its fsync of a large file takes a while
            except DigestMismatch as error:
                raise ApiError(400, str(error)) from None
    except OSError as error:
        raise storage_failure(error, f"cannot store blob {digest}") from None
    return Response(status_code=201)


async def _receive(request: Request, upload: BlobUpload, store: ModelStore) -> None:
    checked_at = 0
    try:
        async for chunk in request.stream():
            upload.write(chunk)
            if upload.size - checked_at >= CHECK_ROOM_EVERY_BYTES:
                checked_at = upload.size
                _check_room(store, 0)
    except ClientDisconnect:
        raise ApiError(499, "the client closed the request before sending the whole blob") from None
    mark_body_read(request)


def _check_room(store: ModelStore, coming: int) -> None:
    free = shutil.disk_usage(store.blobs.directory).free
    if coming > free - RESERVED_BYTES:
        raise ApiError(507, f"not enough disk space for this blob: {free >> 20} MiB free on the store's disk, "
                            f"and {RESERVED_BYTES >> 20} MiB must stay free")  # fmt: skip
