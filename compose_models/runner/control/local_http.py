"""HTTP to a runner on this machine, through the standard library's ``http.client``.

The calls Compose makes on every ``up`` (``status --json``, ``ps``, ``configure``) go to a plain-HTTP
runner on loopback: importing httpx for them cost more than the answer (about 0.1 s here). No proxy is
taken from the environment (a proxy cannot reach our loopback) and no CA bundle is loaded."""

import http.client
import json as json_module
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# What a local call reads of an answer at most: the runner's lists are far smaller, and a program that is
# not the runner (``port_choice``'s look at whoever holds the port) must not make us read without bound.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


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
    """One request to ``url`` (``http://host:port/path``); ``timeout`` bounds the connect and each read."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not a local plain-HTTP URL: {url}")
    sent = dict(headers or {})
    body = None
    if json is not None:
        body = json_module.dumps(json).encode()
        sent["Content-Type"] = "application/json"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
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
