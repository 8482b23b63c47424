"""HTTP error bodies in the shape of the API that was called.

Handlers raise ``ApiError``, or let an error of the runner's tree or the store's propagate
(``runner/errors.py`` gives its status, code and message); the app renders either for the dialect the
route table gives the request (or, for a path it does not have, the path's prefix), so a handler never
has to know which error envelope its callers expect.
"""

import errno
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from compose_models.runner.errors import answer_for
from compose_models.runner.http.dialects import Dialect, dialect_of
from compose_models.runner.http.exchange import exchange_of

_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
_ANTHROPIC_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class ApiError(Exception):
    """A request that cannot be served; ``param`` and ``code`` fill OpenAI's fields of the same names."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def api_error(error: Exception) -> ApiError:
    """``error`` (of the runner's tree, the store's, or any ``UserError``) as the runner answers it."""
    answer = answer_for(error)
    return ApiError(answer.status, answer.message(error), param=answer.param, code=answer.code)


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def storage_failure(error: OSError, doing: str) -> ApiError:
    """A write to this runner's disk that failed: 507 when the disk (or the user's quota) is full, so a
    caller can tell it from a fault of the runner, else 500; ``doing`` says what could not be written."""
    reason = error.strerror or str(error) or type(error).__name__
    where = f" ({error.filename})" if error.filename else ""
    if error.errno in _DISK_FULL:
        return ApiError(507, f"{doing}: {reason}{where}; free some space on the runner's disk and retry",
                        code="insufficient_storage")  # fmt: skip
    return ApiError(500, f"{doing}: {reason}{where}")


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> JSONResponse:
    error_type = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def anthropic_error_body(status: int, message: str) -> dict[str, object]:
    error_type = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": error_type, "message": message}}


def anthropic_request_id() -> str:
    """Anthropic's API names every answer with a ``request-id`` header; clients log it."""
    return f"req_{uuid.uuid4().hex}"


def anthropic_error(status: int, message: str) -> JSONResponse:
    request_id = anthropic_request_id()
    body = {**anthropic_error_body(status, message), "request_id": request_id}
    return JSONResponse(body, status_code=status, headers={"request-id": request_id})


def ollama_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def error_response(dialect: Dialect, error: ApiError) -> Response:
    if dialect is Dialect.OPENAI:
        return openai_error(error.status, error.message, param=error.param, code=error.code)
    if dialect is Dialect.ANTHROPIC:
        return anthropic_error(error.status, error.message)
    if dialect is Dialect.OLLAMA:
        return ollama_error(error.status, error.message)
    return PlainTextResponse(error.message + "\n", status_code=error.status)


async def render_os_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for an ``OSError`` no handler turned into an ``ApiError``: a full
    disk is a 507, anything else a 500, both in the called API's shape instead of plain text."""
    assert isinstance(exc, OSError)
    return await render_api_error(request, storage_failure(exc, f"{request.method} {request.url.path}"))


async def render_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for the runner's errors, the store's and any ``UserError``."""
    return await render_api_error(request, api_error(exc))


async def render_api_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for ``ApiError`` (and HTTP 404/405 raised by routing)."""
    if not isinstance(exc, ApiError):
        status = getattr(exc, "status_code", 500)
        exc = ApiError(status, f"{request.method} {request.url.path}: {getattr(exc, 'detail', 'internal error')}")
    exchange = exchange_of(request.scope)
    return error_response(exchange.inbound.route.dialect if exchange else dialect_of(request.url.path), exc)
