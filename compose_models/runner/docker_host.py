"""What kind of Docker engine is on this machine, and how its containers reach the host.

Docker Desktop (macOS, Windows) maps ``host.docker.internal`` to the host's loopback. A Linux
engine does not: containers reach the host at the default bridge's gateway address, so the runner
must listen there too, and the URL handed to containers names that address.
"""

import fcntl
import socket
import struct
from dataclasses import dataclass
from functools import lru_cache

DESKTOP = "Docker Desktop"
ENGINE = "Docker Engine"
NO_ENGINE = "none"

_SIOCGIFADDR = 0x8915


@dataclass(frozen=True)
class DockerHost:
    kind: str
    bridge_gateway: str | None = None

    def container_host(self) -> str:
        """The host name or address that containers use to reach a server on this host."""
        if self.kind == ENGINE and self.bridge_gateway:
            return self.bridge_gateway
        return "host.docker.internal"


@lru_cache(maxsize=1)
def detect_docker_host() -> DockerHost:
    try:
        import docker

        client = docker.from_env(timeout=5)
        info = client.info()
        if "Docker Desktop" in str(info.get("OperatingSystem", "")):
            return DockerHost(DESKTOP)
        bridge = client.networks.get("bridge").attrs
    except Exception:  # no engine, no permission, no socket: containers are not our concern then
        return DockerHost(NO_ENGINE, _interface_address("docker0"))
    for pool in (bridge.get("IPAM") or {}).get("Config") or []:
        if pool.get("Gateway"):
            return DockerHost(ENGINE, pool["Gateway"])
    name = (bridge.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    return DockerHost(ENGINE, _interface_address(name))


def _interface_address(interface: str) -> str | None:
    """IPv4 address of a network interface (Linux), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            packed = struct.pack("256s", interface.encode()[:15])
            return socket.inet_ntoa(fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, packed)[20:24])
    except OSError:
        return None
