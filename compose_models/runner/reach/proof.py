"""``GET /engines/reach?challenge=HEX``: proof that an answer came from this very runner.

The runner keeps a random secret, written only to its state file. It answers a challenge with an HMAC
of it under that secret, so a probe that knows the secret can tell our runner from Docker Model Runner
or anything else on the port, while the answer itself reveals nothing a caller could reuse.
"""

import hashlib
import hmac
import re
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI's probe uses only the HMAC below, and should not load starlette for it
    from starlette.requests import Request
    from starlette.responses import Response

REACH_PATH = "/engines/reach"
_CHALLENGE = re.compile(r"[0-9a-f]{16,64}")


def new_secret() -> str:
    return secrets.token_hex(32)


def new_challenge() -> str:
    return secrets.token_hex(16)


def reach_answer(secret: str, challenge: str) -> str:
    digest = hmac.new(secret.encode(), challenge.encode(), hashlib.sha256).hexdigest()
    return f"compose-models-runner {digest}"


async def reach_endpoint(request: "Request") -> "Response":
    from starlette.responses import PlainTextResponse

    from compose_models.runner.http.errors import ApiError
    from compose_models.runner.services import services_of

    secret = services_of(request).reach_secret
    if not secret:
        raise ApiError(404, "this runner was started without a reach secret")
    challenge = request.query_params.get("challenge", "")
    if not _CHALLENGE.fullmatch(challenge):
        raise ApiError(400, "challenge: expected 16 to 64 lowercase hex digits")
    return PlainTextResponse(reach_answer(secret, challenge))
