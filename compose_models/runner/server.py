"""Run the runner in the foreground: bind loopback and the Docker bridge, record state, serve."""

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
from compose_models.runner.state import RunnerState, clear_state, write_state

def listen_addresses(requested: list[str], with_api_keys: bool = False) -> list[str]:
    """Loopback plus the Docker bridge gateway by default; other hosts only when API keys guard the runner."""
    gateway = detect_docker_host().bridge_gateway
    safe = ["127.0.0.1"] + ([gateway] if gateway else [])
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


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP; without it
    # every response on a kept-alive connection waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(hosts: list[str], port: int) -> None:
    gateway_settings = GatewaySettings.for_runner(runner_dir() / "logs")
    addresses = listen_addresses(hosts, with_api_keys=bool(gateway_settings.keys))
    sockets = [_bind(host, port) for host in addresses]
    app = with_gateway(create_app(store_dir(), runner_dir() / "logs"), gateway_settings)
    write_state(RunnerState(pid=os.getpid(), port=port, hosts=addresses))
    try:
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        clear_state(os.getpid())
