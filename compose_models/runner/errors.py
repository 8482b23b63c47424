"""HTTP error bodies in the shape of the API that was called."""

from starlette.responses import JSONResponse

_OPENAI_TYPES = {400: "invalid_request_error", 404: "invalid_request_error", 409: "conflict_error", 413: "invalid_request_error"}


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> JSONResponse:
    error_type = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)
