"""Run the runner in the foreground: bind loopback (and a local engine's bridge), record state, serve."""

import ipaddress
import os
import socket

import uvicorn

from compose_models.errors import UserError
from compose_models.gateway.middleware import with_gateway
from compose_models.gateway.settings import GatewaySettings
from compose_models.home import runner_dir, store_dir
from compose_models.runner.app import create_app
from compose_models.runner.docker_host import detect_docker_host
from compose_models.runner.port_choice import PortChoice, bind_first_free, bind_socket
from compose_models.runner.reach_proof import new_secret
from compose_models.runner.runner_log import say
from compose_models.runner.state import RunnerState, clear_state, write_state


def listen_addresses(requested: list[str], with_api_keys: bool = False) -> list[str]:
    """Loopback plus the engine's bridge gateways that are addresses of this machine (a local Linux
    engine's; a VM engine's gateway lives in the VM); other hosts only when API keys guard the runner."""
    safe = ["127.0.0.1", *detect_docker_host().local_bridge_gateways()]
    if not requested:
        return safe
    for host in requested:
        try:
            is_loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            raise UserError(f"--host {host!r}: expected an IP address") from None
        if not is_loopback and host not in safe and not with_api_keys:
            raise UserError(
                f"--host {host}: refusing to listen beyond loopback and the Docker bridge ({', '.join(safe)}) "
                "without API keys: pass --api-keys FILE"
            )
    return list(dict.fromkeys(requested))


def bind_addresses(addresses: list[str], port: int, *, requested: bool) -> tuple[list[socket.socket], list[str], PortChoice]:
    """The first address on ``port`` or the next free one; the others on the same port.

    An address the user asked for must bind; one we added (a bridge gateway) is skipped with a note,
    since the reach probe finds another route or says that none works.
    """
    first, *others = addresses
    try:
        first_socket, choice = bind_first_free(first, port)
    except OSError as error:
        raise UserError(f"cannot listen on {first}:{port}: {error.strerror or error}") from None
    sockets, bound = [first_socket], [first]
    for host in others:
        try:
            sockets.append(bind_socket(host, choice.port))
            bound.append(host)
        except OSError as error:
            if requested:
                for sock in sockets:
                    sock.close()
                raise UserError(f"cannot listen on {host}:{choice.port}: {error.strerror}") from None
            say(f"not listening on {host}:{choice.port}: {error.strerror} (skipped)")
    return sockets, bound, choice


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
