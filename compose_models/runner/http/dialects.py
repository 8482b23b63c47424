"""Which API a request speaks, decided by its path, so errors and records use that API's shapes."""

from enum import Enum


class Dialect(str, Enum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OLLAMA = "ollama"
    DMR = "dmr"  # Docker Model Runner's own management routes: plain-text errors


def dialect_of(path: str) -> Dialect:
    if path.startswith("/anthropic/") or "/v1/messages" in path:
        return Dialect.ANTHROPIC
    if path.startswith("/api/"):
        return Dialect.OLLAMA
    if "/v1/" in path or path.endswith("/v1"):
        return Dialect.OPENAI
    return Dialect.DMR
