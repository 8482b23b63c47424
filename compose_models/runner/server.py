"""Run the runner in the foreground: bind loopback (and a local engine's bridge), record state, serve."""

import os

import uvicorn

from compose_models.gateway.middleware import with_gateway
from compose_models.gateway.settings import GatewaySettings
from compose_models.home import runner_dir, store_dir
from compose_models.runner.app import create_app
from compose_models.runner.control.listening import bind_addresses, listen_addresses
from compose_models.runner.control.state import RunnerState, clear_state, write_state
from compose_models.runner.observability.log import say
from compose_models.runner.reach.proof import new_secret


def serve(hosts: list[str], port: int) -> None:
    gateway_settings = GatewaySettings.for_runner(runner_dir() / "logs")
    addresses = listen_addresses(hosts, with_api_keys=bool(gateway_settings.keys))
    sockets, bound, choice = bind_addresses(addresses, port, requested=bool(hosts))
    if choice.note():
        say(choice.note())
    secret = new_secret()
    runner_app = create_app(store_dir(), runner_dir() / "logs")
    runner_app.state.reach_secret = secret
    app = with_gateway(runner_app, gateway_settings)
    write_state(RunnerState(
        pid=os.getpid(), port=choice.port, hosts=bound, reach_secret=secret,
        preferred_port=choice.preferred if choice.holder else None, preferred_port_holder=choice.holder,
    ))
    try:
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        clear_state(os.getpid())
