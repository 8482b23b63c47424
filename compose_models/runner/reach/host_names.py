"""The names a request to the runner may carry in ``Host``: how it is reached from this machine (also
by its own host name, for a runner listening on the LAN behind keys), from containers (the names the
reach probe can choose, the addresses it listens on) and the names the user adds in
``$COMPOSE_MODELS_ALLOWED_HOSTS``."""

import os
import socket

from compose_models.runner.http.host_check import ALLOWED_HOSTS_VARIABLE
from compose_models.runner.reach.probe import CANDIDATE_NAMES, HOST_GATEWAY_NAME

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def allowed_host_names(listening: list[str]) -> list[str]:
    configured = [name.strip() for name in os.environ.get(ALLOWED_HOSTS_VARIABLE, "").split(",") if name.strip()]
    own = socket.gethostname()
    return list(dict.fromkeys([
        *LOOPBACK_NAMES, own, f"{own.split('.')[0]}.local", *listening, *CANDIDATE_NAMES, HOST_GATEWAY_NAME, *configured
    ]))  # fmt: skip
