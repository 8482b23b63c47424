"""An OCI distribution API client over httpx: manifests and blobs, with the registry's own auth dance.

HTTPS by default; plain HTTP for ``localhost`` and loopback addresses, or when the user asks for it
(``--insecure``, or ``INSECURE_REGISTRY=true`` as DMR). Unlike DMR, ``*.local`` names are not plain HTTP
on their own: they are hosts on the LAN. Credentials come from the docker CLI's config (credentials.py),
and an Authorization header goes only to the registry's own origin, never to a host it redirects or
hands an upload to. Every answer is read within a bound (bounded_read.py).
"""

import ipaddress
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import cast
from urllib.parse import urljoin

import httpx

from compose_models import __version__
from compose_models.store import media_types
from compose_models.store.blobs import sha256_digest
from compose_models.store.bounded_read import MAX_MANIFEST_BYTES, MAX_SMALL_BYTES, MiB, read_at_most
from compose_models.store.credentials import Credentials, registry_credentials
from compose_models.store.errors import RegistryError, RegistryNotFound
from compose_models.store.registry_auth import basic_authorization, fetch_bearer_token, parse_challenge

MANIFEST_ACCEPT = ", ".join((media_types.OCI_MANIFEST, media_types.DOCKER_MANIFEST, media_types.OCI_INDEX))


def is_loopback_registry(registry: str) -> bool:
    """``localhost[:port]``, ``127.x.x.x[:port]`` or ``[::1][:port]``: a registry on this machine only."""
    try:
        host = httpx.URL(f"http://{registry}").host
    except httpx.InvalidURL:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uses_plain_http(registry: str, insecure: bool) -> bool:
    return insecure or os.environ.get("INSECURE_REGISTRY") == "true" or is_loopback_registry(registry)


_PAGE_SIZE = 1000
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class RegistryClient:
    def __init__(self, registry: str, insecure: bool = False, credentials: Credentials | None = None) -> None:
        self.registry = registry
        host = "registry-1.docker.io" if registry == "docker.io" else registry
        self.base_url = f"{'http' if uses_plain_http(registry, insecure) else 'https'}://{host}"
        self._origin = _origin(httpx.URL(self.base_url))
        self._credentials = credentials if credentials is not None else registry_credentials(registry)
        self._authorizations: dict[str, str] = {}
        self._http = httpx.Client(
            follow_redirects=True,
            timeout=httpx.Timeout(60.0, connect=10.0),
            headers={"User-Agent": f"compose-models/{__version__}"},
        )

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    # -- manifests --------------------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        """The raw manifest bytes and their media type; RegistryNotFound when there is none."""
        url = f"/v2/{repository}/manifests/{reference}"
        with self._request("GET", url, repository, "pull", headers={"Accept": MANIFEST_ACCEPT}) as response:
            self._raise_for_status(response, f"manifest {repository}:{reference}")
            raw = read_at_most(response, MAX_MANIFEST_BYTES)
        if raw is None:
            name = f"{self.registry}/{repository}{'@' if reference.startswith('sha256:') else ':'}{reference}"
            raise RegistryError(f"the manifest of {name} is larger than {MAX_MANIFEST_BYTES // MiB} MiB "
                            "(the most a registry accepts); refused")  # fmt: skip
        return raw, response.headers.get("content-type", "").split(";")[0]

    def put_manifest(self, repository: str, tag: str, raw: bytes, media_type: str) -> str:
        url = f"/v2/{repository}/manifests/{tag}"
        headers = {"Content-Type": media_type}
        with self._request("PUT", url, repository, "pull,push", headers=headers, content=raw) as response:
            self._raise_for_status(response, f"manifest {repository}:{tag}")
        return response.headers.get("docker-content-digest") or sha256_digest(raw)

    # -- blobs ------------------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str) -> bool:
        with self._request("HEAD", f"/v2/{repository}/blobs/{digest}", repository, "pull") as response:
            if response.status_code == 404:
                return False
            self._raise_for_status(response, f"blob {digest}")
            return True

    @contextmanager
    def stream_blob(self, repository: str, digest: str, offset: int = 0) -> Iterator[httpx.Response]:
        """The blob's response, from ``offset`` when > 0 (status 206 if the registry honoured the Range)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self._request("GET", f"/v2/{repository}/blobs/{digest}", repository, "pull", headers=headers) as response:
            if response.status_code == 416:  # already complete: let the caller verify what it has
                yield response
                return
            self._raise_for_status(response, f"blob {digest}")
            yield response

    def get_blob(self, repository: str, digest: str, size: int, what: str) -> bytes:
        """A small blob (a config), read no further than its declared ``size``; ``what`` names it in errors."""
        with self.stream_blob(repository, digest) as response:
            data = read_at_most(response, size)
        if data is None:
            raise RegistryError(f"{what} ({digest}) sent more than its declared {size} bytes; not kept")
        if sha256_digest(data) != digest:
            raise RegistryError(f"{what} ({digest}) does not match its digest; not kept")
        return data

    def mount_blob(self, repository: str, digest: str, source_repository: str) -> bool:
        """Cross-repository mount; True if the registry now has the blob in ``repository``."""
        url = f"/v2/{repository}/blobs/uploads/?mount={digest}&from={source_repository}"
        scope = f"repository:{repository}:pull,push repository:{source_repository}:pull"
        with self._request("POST", url, repository, "pull,push", scope_override=scope) as response:
            if response.status_code == 201:
                return True
            if response.status_code != 202:
                self._raise_for_status(response, f"mount of {digest}")
            self._cancel_upload(response, repository)
            return False

    def upload_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        """Monolithic upload: start a session, then one PUT with the whole body streamed."""
        with self._request("POST", f"/v2/{repository}/blobs/uploads/", repository, "pull,push") as response:
            self._raise_for_status(response, f"upload of {digest}")
            location = self._location(response)
        separator = "&" if "?" in location else "?"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        put_url = f"{location}{separator}digest={digest}"
        with self._request("PUT", put_url, repository, "pull,push", headers=headers, content=chunks) as response:
            self._raise_for_status(response, f"upload of {digest}")

    # -- plumbing ---------------------------------------------------------------------------------

    def repositories(self) -> list[str]:
        return self._all_pages(f"/v2/_catalog?n={_PAGE_SIZE}", "", "registry:catalog:*", "repositories")

    def tags(self, repository: str) -> list[str]:
        path = f"/v2/{repository}/tags/list?n={_PAGE_SIZE}"
        return self._all_pages(path, repository, f"repository:{repository}:pull", "tags")

    def _all_pages(self, path: str, repository: str, scope: str, key: str) -> list[str]:
        items: list[str] = []
        next_path: str | None = path
        while next_path:
            with self._request("GET", next_path, repository, "pull", scope_override=scope) as response:
                self._raise_for_status(response, f"the list of {key}")
                page = read_at_most(response, MAX_SMALL_BYTES)
                link = _NEXT_LINK.search(response.headers.get("link", ""))
            if page is None:
                raise RegistryError(f"registry {self.registry} sent a page of {key} larger than 1 MiB; refused")
            try:
                found = json.loads(page).get(key) or []
            except (ValueError, RecursionError, AttributeError):
                raise RegistryError(f"registry {self.registry} sent a list of {key} that is not a JSON object") from None
            items += [item for item in found if isinstance(item, str)]
            next_path = link.group(1) if link else None
        return items

    @contextmanager
    def _request(
        self,
        method: str,
        path: str,
        repository: str,
        actions: str,
        scope_override: str | None = None,
        **kwargs: object,
    ) -> Iterator[httpx.Response]:
        scope = scope_override or f"repository:{repository}:{actions}"
        response = self._send(method, path, scope, kwargs)
        own = _origin(response.url) == self._origin  # another host's challenge is not answered with our credentials
        if response.status_code == 401 and own and self._answer_challenge(response, scope):
            response.close()
            response = self._send(method, path, scope, kwargs)
        try:
            yield response
        finally:
            response.close()

    def _send(self, method: str, path: str, scope: str, kwargs: dict[str, object]) -> httpx.Response:
        headers = dict(kwargs.get("headers") or {})  # type: ignore[call-overload]
        url = urljoin(self.base_url + "/", path.lstrip("/")) if not path.startswith("http") else path
        authorization = self._authorizations.get(scope) or self._authorizations.get("*")
        if authorization and _origin(httpx.URL(url)) == self._origin:
            headers["Authorization"] = authorization
        request = self._http.build_request(method, url, headers=headers, content=kwargs.get("content"))  # type: ignore[arg-type]
        try:
            return self._http.send(request, stream=True)
        except httpx.HTTPError as error:
            raise RegistryError(
                f"cannot reach registry {self.registry} at {self.base_url}: {error or type(error).__name__}; "
                "is it running and is the address right? (use --insecure for a plain-HTTP registry)"
            ) from error

    def _answer_challenge(self, response: httpx.Response, scope: str) -> bool:
        """Work out an Authorization header from a 401; False when there is nothing more to try."""
        scheme, parameters = parse_challenge(response.headers.get("www-authenticate", ""))
        if scheme == "basic":
            if self._credentials is None or "*" in self._authorizations:
                return False
            self._authorizations["*"] = basic_authorization(self._credentials)
            return True
        if scheme == "bearer" and scope not in self._authorizations:
            scopes = scope.split(" ")
            self._authorizations[scope] = fetch_bearer_token(
                self._http, parameters, scopes, self._credentials, self.base_url
            )
            return True
        return False

    def _raise_for_status(self, response: httpx.Response, what: str) -> None:
        if response.status_code < 400:
            return
        detail = _registry_error(read_at_most(response, MAX_SMALL_BYTES) or b"")
        if response.status_code == 401:
            hint = "no credentials found" if self._credentials is None else "the credentials were refused"
            raise RegistryError(
                f"{self.registry} requires authentication for {what} ({hint}): run `docker login {self.registry}` "
                f"or add it to {os.environ.get('DOCKER_CONFIG', '~/.docker')}/config.json{detail}"
            )
        if response.status_code == 403:
            raise RegistryError(f"{self.registry} denied access to {what}{detail}")
        if response.status_code == 404:
            raise RegistryNotFound(f"{what} not found in registry {self.registry}{detail}")
        raise RegistryError(f"registry {self.registry} answered HTTP {response.status_code} for {what}{detail}")

    def _location(self, response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise RegistryError(f"registry {self.registry} started an upload without giving its Location")
        return cast(str, urljoin(str(response.url), location))

    def _cancel_upload(self, response: httpx.Response, repository: str) -> None:
        location = response.headers.get("location")
        if location:
            with self._request("DELETE", self._location(response), repository, "pull,push"):
                pass


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _registry_error(body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors") or []
    except (ValueError, RecursionError, AttributeError):
        return ""
    if not isinstance(errors, list):
        return ""
    messages = [str(error.get("message") or error.get("code"))[:300] for error in errors if isinstance(error, dict)]
    return f": {'; '.join(messages[:5])}" if messages else ""
