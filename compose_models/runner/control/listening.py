"""Which addresses the runner listens on: loopback and a local engine's bridge, others only behind keys."""

import ipaddress
import socket

from compose_models.docker_host import detect_docker_host
from compose_models.errors import UserError
from compose_models.log import say
from compose_models.runner.control.port_choice import PortChoice, bind_first_free, bind_socket


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
