"""Answering a registry's ``WWW-Authenticate`` challenge: Basic, or a Bearer token from its realm."""

import base64
import json
import re
from typing import Any

import httpx

from compose_models.store.bounded_read import MAX_SMALL_BYTES, read_at_most
from compose_models.store.credentials import Credentials
from compose_models.store.errors import RegistryError

_PARAMETER = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="https://auth",service="reg",scope="a b"`` → ``("bearer", {realm, service, scope})``."""
    scheme, _, rest = header.strip().partition(" ")
    parameters = {key.lower(): quoted if quoted or not bare else bare for key, quoted, bare in _PARAMETER.findall(rest)}
    return scheme.lower(), parameters


def basic_authorization(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def fetch_bearer_token(
    http: httpx.Client,
    parameters: dict[str, str],
    scopes: list[str],
    credentials: Credentials | None,
    registry_url: str,
) -> str:
    """Get a token from the challenge's realm for these scopes (anonymously when no credentials)."""
    realm = parameters.get("realm")
    if not realm:
        raise RegistryError("the registry asked for a bearer token but named no realm to get it from")
    _check_realm(realm, httpx.URL(registry_url))
    service = parameters.get("service", "")
    if credentials and credentials.is_identity_token:
        form = {"grant_type": "refresh_token", "refresh_token": credentials.password,
                "service": service, "scope": " ".join(scopes), "client_id": "compose-models"}  # fmt: skip
        request = http.build_request("POST", realm, data=form)
    else:
        query: list[tuple[str, Any]] = [("service", service)] if service else []
        query += [("scope", scope) for scope in scopes]
        request = http.build_request("GET", realm, params=query)
        if credentials:
            request.headers["Authorization"] = basic_authorization(credentials)
    try:
        response = http.send(request, stream=True)
        try:
            body = read_at_most(response, MAX_SMALL_BYTES)
        finally:
            response.close()
    except httpx.HTTPError as error:
        raise RegistryError(f"cannot reach the registry's token server {realm}: {error}") from error
    # The token server's own words are not repeated: a hostile one could put anything there.
    if response.status_code in (401, 403):
        raise RegistryError(
            f"the token server {realm} refused the credentials (HTTP {response.status_code}): "
            "check `docker login` for this registry"
        )
    if response.status_code != 200:
        raise RegistryError(f"the token server {realm} answered HTTP {response.status_code}")
    if body is None:
        raise RegistryError(f"the token server {realm} answered more than {MAX_SMALL_BYTES // 1024} KiB; refused")
    try:
        answer = json.loads(body)
        token = answer.get("token") or answer.get("access_token")
    except (ValueError, RecursionError, AttributeError):
        raise RegistryError(f"the token server {realm} answered something that is not a JSON object") from None
    if not token or not isinstance(token, str):
        raise RegistryError(f"the token server {realm} answered without a token")
    return f"Bearer {token}"


def _check_realm(realm: str, registry_url: httpx.URL) -> None:
    """The user's credentials go to an https realm, or to the registry's own host when it is plain HTTP
    (a loopback registry, or one the user asked for with --insecure); never to a plain-HTTP host elsewhere."""
    try:
        url = httpx.URL(realm)
    except httpx.InvalidURL:
        url = None
    if url is not None and url.scheme == "https" and url.host:
        return
    if url is not None and url.scheme == "http" and registry_url.scheme == "http" and url.host == registry_url.host:
        return
    raise RegistryError(
        f"the registry at {registry_url} sent its clients to the token server {realm!r}; refused: a token server "
        f"must be https, or plain HTTP only on the registry's own host ({registry_url.host}). No credentials were sent"
    )
