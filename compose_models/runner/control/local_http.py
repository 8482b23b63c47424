"""HTTP to a runner on this machine: no CA bundle is loaded (about 60 ms a client here, paid on every CLI
call), and no proxy taken from the environment (a proxy cannot reach our loopback). A runner serving TLS
is trusted by the certificate it serves, which its state file names (``tls.pinned_context``)."""

import ssl
from pathlib import Path
from typing import Any

import httpx

from compose_models.errors import UserError


def local_verify(url: str) -> ssl.SSLContext | bool:
    """How to trust the runner at ``url``: nothing to verify for plain HTTP, else its own certificate."""
    if not str(url).startswith("https://"):
        return False
    from compose_models.runner.control.state import read_state
    from compose_models.runner.control.tls import pinned_context

    state = read_state()
    if state is None or not state.tls_cert:
        raise UserError(f"{url}: the runner serving it over TLS is not the one recorded in its state file")
    return pinned_context(Path(state.tls_cert))


def local_client(**options: Any) -> httpx.Client:
    return httpx.Client(verify=local_verify(options.get("base_url", "")), trust_env=False, **options)


def local_get(url: str, **options: Any) -> httpx.Response:
    with httpx.Client(verify=local_verify(url), trust_env=False) as client:
        return client.get(url, **options)
