"""Answering a registry's ``WWW-Authenticate`` challenge: Basic, or a Bearer token from its realm."""

import base64
import re

import httpx

from compose_models.errors import UserError
from compose_models.store.credentials import Credentials

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
    http: httpx.Client, parameters: dict[str, str], scopes: list[str], credentials: Credentials | None
) -> str:
    """Get a token from the challenge's realm for these scopes (anonymously when no credentials)."""
    realm = parameters.get("realm")
    if not realm:
        raise UserError("the registry asked for a bearer token but named no realm to get it from")
    service = parameters.get("service", "")
    try:
        if credentials and credentials.is_identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": credentials.password,
                    "service": service, "scope": " ".join(scopes), "client_id": "compose-models"}  # fmt: skip
            response = http.post(realm, data=form)
        else:
            query = [("service", service)] if service else []
            query += [("scope", scope) for scope in scopes]
            auth = httpx.BasicAuth(credentials.username, credentials.password) if credentials else None
            response = http.get(realm, params=query, auth=auth)
    except httpx.HTTPError as error:
        raise UserError(f"cannot reach the registry's token server {realm}: {error}") from error
    if response.status_code in (401, 403):
        raise UserError(
            f"the token server {realm} refused the credentials (HTTP {response.status_code}): "
            "check `docker login` for this registry"
        )
    if response.status_code != 200:
        raise UserError(f"the token server {realm} answered HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    token = body.get("token") or body.get("access_token")
    if not token:
        raise UserError(f"the token server {realm} answered without a token")
    return f"Bearer {token}"
