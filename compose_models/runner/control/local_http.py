"""HTTP to a runner on this machine: plain HTTP, so no CA bundle is loaded (about 60 ms a client here,
paid on every CLI call), and no proxy taken from the environment (a proxy cannot reach our loopback)."""

from typing import Any

import httpx


def local_client(**options: Any) -> httpx.Client:
    return httpx.Client(verify=False, trust_env=False, **options)


def local_get(url: str, **options: Any) -> httpx.Response:
    with local_client() as client:
        return client.get(url, **options)
