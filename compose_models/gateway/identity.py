"""Who is calling: the name of the presented key, or the service a per-service key was issued to, or for a
container on this Docker engine its Compose project, service and container name (found from the source
address through the engine), or the address."""

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from typing import Any

from compose_models.gateway.service_keys import ServiceCaller

CACHE_SECONDS = 30.0
# A miss refreshes the cache at most this often: a new container is found quickly, a stranger costs little.
MISS_REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class Caller:
    name: str
    kind: str  # "key", "service" (a per-service key), "container" or "address"
    address: str = ""
    project: str | None = None
    service: str | None = None
    container: str | None = None


@dataclass(frozen=True)
class ContainerIdentity:
    project: str | None
    service: str | None
    container: str

    @property
    def caller_name(self) -> str:
        if self.project and self.service:
            return f"{self.project}/{self.service}"
        return self.container


def containers_by_address(containers: list[dict[str, Any]]) -> dict[str, ContainerIdentity]:
    """Every network address of every running container, from the engine's container list (``GET /containers/json``)."""
    found: dict[str, ContainerIdentity] = {}
    for container in containers:
        labels = container.get("Labels") or {}
        name = ((container.get("Names") or ["?"])[0]).lstrip("/")
        identity = ContainerIdentity(labels.get("com.docker.compose.project"), labels.get("com.docker.compose.service"), name)
        networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
        for network in networks.values():
            for field in ("IPAddress", "GlobalIPv6Address"):
                if network.get(field):
                    found[network[field]] = identity
    return found


class ContainerDirectory:
    """Source address -> container, from the Docker engine; cached, and never blocking the event loop."""

    def __init__(self) -> None:
        self._by_address: dict[str, ContainerIdentity] = {}
        self._refreshed = float("-inf")
        self._lock = asyncio.Lock()

    async def find(self, address: str) -> ContainerIdentity | None:
        if not address or is_loopback(address):
            return None
        age = time.monotonic() - self._refreshed
        if age > CACHE_SECONDS or (address not in self._by_address and age > MISS_REFRESH_SECONDS):
            async with self._lock:
                if time.monotonic() - self._refreshed > MISS_REFRESH_SECONDS:
                    self._by_address = await asyncio.to_thread(_list_containers)
                    self._refreshed = time.monotonic()
        return self._by_address.get(address)


def _list_containers() -> dict[str, ContainerIdentity]:
    try:
        import docker

        client = docker.from_env(timeout=10)
        try:
            # One call for every container, not one inspection per container as ``containers.list()`` makes.
            return containers_by_address(client.api.containers())
        finally:
            client.close()
    except Exception:  # no engine, no permission: callers are then known by address
        return {}


def is_loopback(address: str) -> bool:
    """Whether ``address`` is this machine's loopback (also as an IPv4-mapped IPv6 address)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)
    return (mapped or parsed).is_loopback


async def identify(
    key_name: str | None, address: str, directory: ContainerDirectory, service: ServiceCaller | None = None
) -> Caller:
    if key_name is not None:
        return Caller(key_name, "key", address)
    if service is not None:
        return Caller(service.name, "service", address, service.project, service.service)
    container = await directory.find(address)
    if container is not None:
        return Caller(container.caller_name, "container", address, container.project, container.service, container.container)
    return Caller("local" if is_loopback(address) else address, "address", address)
