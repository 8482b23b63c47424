"""Reading a registry's answer no further than a bound: what a registry sends is not trusted to end.

The bounds, each the most a well-behaved registry or token server sends:

- ``MAX_MANIFEST_BYTES`` (4 MiB): the most the CNCF distribution registry (and Docker Hub) accept in a
  manifest PUT, so no registry can serve a larger one it was given.
- ``MAX_CONFIG_BYTES`` (16 MiB): a model config is metadata (a few KiB for SmolLM2: arrays longer than 50
  entries are left out), but other builders may keep a whole vocabulary, a few MiB as JSON.
- ``MAX_LAYERS`` (1024): the largest public models are a few hundred files (DeepSeek-V3's safetensors: 163
  shards); each layer costs a connection and a file.
- ``MAX_SMALL_BYTES`` (1 MiB): token answers, error bodies and pages of tag or repository lists.
"""

import httpx

MiB = 1 << 20
MAX_MANIFEST_BYTES = 4 * MiB
MAX_CONFIG_BYTES = 16 * MiB
MAX_LAYERS = 1024
MAX_SMALL_BYTES = MiB


def read_at_most(response: httpx.Response, limit: int) -> bytes | None:
    """The body, or None once it proves longer than ``limit`` bytes (the rest is left unread)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
