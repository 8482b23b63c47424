"""HTTP to a runner on this machine.

The calls Compose makes on every ``up`` (``status --json``, ``ps``, ``configure``) go through the standard
library's ``http.client`` (``local_request``): importing httpx for them cost more than the answer (about
0.1 s here). No CA bundle is loaded and no proxy is taken from the environment (a proxy cannot reach our
loopback). A runner serving TLS is trusted by the certificate it serves, which its state file names
(``tls.pinned_context``). ``local_client`` is the httpx client, for the callers that stream or pool."""

import http.client
import json as json_module
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from compose_models.errors import UserError

if TYPE_CHECKING:
    import ssl

    import httpx

# What a local call reads of an answer at most: the runner's lists are far smaller, and a program that is
# not the runner (``port_choice``'s look at whoever holds the port) must not make us read without bound.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


def local_verify(url: str) -> "ssl.SSLContext | bool":
    """How to trust the runner at ``url``: nothing to verify for plain HTTP, else its own certificate."""
    if not str(url).startswith("https://"):
        return False
    from compose_models.runner.control.state import read_state
    from compose_models.runner.control.tls import pinned_context

    state = read_state()
    if state is None or not state.tls_cert:
        raise UserError(f"{url}: the runner serving it over TLS is not the one recorded in its state file")
    return pinned_context(Path(state.tls_cert))


def local_client(**options: Any) -> "httpx.Client":
    import httpx

    return httpx.Client(verify=local_verify(options.get("base_url", "")), trust_env=False, **options)


class LocalHTTPError(OSError):
    """Nothing answered HTTP at the address: refused, timed out, not HTTP, or an answer over the bound."""


@dataclass(frozen=True)
class LocalAnswer:
    status_code: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json_module.loads(self.content)


def local_request(
    method: str, url: str, *, json: Any = None, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> LocalAnswer:
    """One request to ``url`` (``http(s)://host:port/path``); ``timeout`` bounds the connect and each read."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a local HTTP URL: {url}")
    sent = dict(headers or {})
    body = None
    if json is not None:
        body = json_module.dumps(json).encode()
        sent["Content-Type"] = "application/json"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = local_verify(url)
        assert not isinstance(context, bool)  # an https URL is always verified, by the runner's own certificate
        connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        content = response.read(MAX_ANSWER_BYTES + 1)
        if len(content) > MAX_ANSWER_BYTES:
            raise LocalHTTPError(f"{method} {url}: the answer is larger than {MAX_ANSWER_BYTES} bytes")
        return LocalAnswer(response.status, content, {name.lower(): value for name, value in response.getheaders()})
    except (OSError, http.client.HTTPException) as error:
        if isinstance(error, LocalHTTPError):
            raise
        raise LocalHTTPError(f"{method} {url}: {error or type(error).__name__}") from error
    finally:
        connection.close()


def local_get(url: str, **options: Any) -> LocalAnswer:
    return local_request("GET", url, **options)
