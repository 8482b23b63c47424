"""The gateway's settings, from the environment (which ``serve --api-keys`` sets and a detached runner inherits)."""

import os
from dataclasses import dataclass
from pathlib import Path

from compose_models.gateway.keys import ApiKeys, load_keys_file, parse_keys
from compose_models.gateway.limits import CONCURRENT_VARIABLE, REQUESTS_VARIABLE, TOKENS_VARIABLE, Limits
from compose_models.gateway.request_log import FILE_NAME
from compose_models.gateway.service_keys import ServiceKeys, disable_service_keys, enable_service_keys
from compose_models.runner.control.local_key import LOCAL_CALLER, create_local_key

KEYS_FILE_VARIABLE = "COMPOSE_MODELS_API_KEYS_FILE"
KEYS_VARIABLE = "COMPOSE_MODELS_API_KEYS"
OPEN_MANAGEMENT_VARIABLE = "COMPOSE_MODELS_OPEN_MANAGEMENT"


@dataclass(frozen=True)
class GatewaySettings:
    keys: ApiKeys
    limits: Limits
    request_log: Path
    service_keys: ServiceKeys | None = None  # the runner's, while keys or limits are on; never the connector's
    # The runner's: the key of this machine's CLI, which (with admin keys) alone manages models. Without one
    # (the connector), or with ``open_management``, a caller on loopback manages when no keys are set.
    local_key: str | None = None
    open_management: bool = False

    @classmethod
    def from_environment(cls, log_dir: Path) -> "GatewaySettings":
        return cls(keys_from_environment(), Limits.from_environment(), log_dir / FILE_NAME)

    @classmethod
    def for_runner(cls, log_dir: Path) -> "GatewaySettings":
        """The environment's settings plus a fresh key for this machine's CLI (an admin key among the keys
        when keys are on), and, when keys or limits are on, the keys ``up`` gives services."""
        settings = cls.from_environment(log_dir)
        if settings.keys or settings.limits != Limits():
            service_keys = enable_service_keys()
        else:
            disable_service_keys()
            service_keys = None
        keys = settings.keys
        local_key = create_local_key()
        if keys:
            keys = keys.with_keys(ApiKeys({local_key: LOCAL_CALLER}, frozenset({local_key})))
        return cls(keys, settings.limits, settings.request_log, service_keys, local_key, open_management_from_environment())


def open_management_from_environment() -> bool:
    """``serve --open-management`` (``$COMPOSE_MODELS_OPEN_MANAGEMENT=1``): without keys, any caller on
    loopback manages models, as before the local key (and, on a Mac, any container)."""
    return os.environ.get(OPEN_MANAGEMENT_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def keys_from_environment() -> ApiKeys:
    """Keys from ``$COMPOSE_MODELS_API_KEYS_FILE`` and ``$COMPOSE_MODELS_API_KEYS`` (``name:key,...``) together."""
    keys = ApiKeys({})
    if os.environ.get(KEYS_FILE_VARIABLE):
        keys = keys.with_keys(load_keys_file(Path(os.environ[KEYS_FILE_VARIABLE]).expanduser()))
    if os.environ.get(KEYS_VARIABLE):
        keys = keys.with_keys(parse_keys(os.environ[KEYS_VARIABLE].split(","), f"${KEYS_VARIABLE}"))
    return keys


def export_gateway_options(
    api_keys: Path | None, requests_per_minute: int | None, tokens_per_minute: int | None, concurrent_requests: int | None,
    open_management: bool = False,
) -> None:
    """Put ``serve``'s gateway options in the environment, where the runner (detached or not) reads them."""
    if open_management:
        os.environ[OPEN_MANAGEMENT_VARIABLE] = "1"
    if api_keys is not None:
        load_keys_file(api_keys)  # refuse a bad file now, not in a detached child
        os.environ[KEYS_FILE_VARIABLE] = str(api_keys.resolve())
    for variable, value in (
        (REQUESTS_VARIABLE, requests_per_minute),
        (TOKENS_VARIABLE, tokens_per_minute),
        (CONCURRENT_VARIABLE, concurrent_requests),
    ):
        if value is not None:
            os.environ[variable] = str(value)
