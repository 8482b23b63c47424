"""Which Docker engine this machine talks to, found the way the Docker CLI finds it, and what kind it is.

The CLI takes ``DOCKER_HOST``, else the current context (``DOCKER_CONTEXT``, else ``currentContext`` in
``$DOCKER_CONFIG/config.json``), else the default socket. docker-py's ``from_env`` ignores contexts, so
colima, OrbStack, Rancher Desktop and Desktop's ``desktop-linux`` would be missed: we resolve the
endpoint ourselves and hand it to docker-py as ``base_url``.

The kind says how containers reach the host (see docs/platforms.md); the bridge gateways are the
engine's own addresses, which only a local Linux engine has on this machine.
"""

import fcntl
import hashlib
import http.client
import ipaddress
import json
import os
import shutil
import socket
import struct
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

DESKTOP = "Docker Desktop"
ORBSTACK = "OrbStack"
COLIMA = "colima"
RANCHER = "Rancher Desktop"
PODMAN = "Podman"
LINUX = "Linux"
NO_ENGINE = "none"

DEFAULT_ENDPOINT = "unix:///var/run/docker.sock"

_SIOCGIFADDR = 0x8915  # Linux


@dataclass(frozen=True)
class EngineLocation:
    """Where the engine is, and why there: ``DOCKER_HOST``, a context, or the default socket."""

    endpoint: str | None
    context: str | None
    source: str
    problem: str | None = None


@dataclass(frozen=True)
class DockerHost:
    kind: str
    location: EngineLocation
    bridge_gateways: tuple[str, ...] = ()
    problem: str | None = None
    info: dict = field(default_factory=dict, compare=False, hash=False, repr=False)
    fix: str | None = None  # what the user should do, when it is not "start your engine" (Rancher Desktop on containerd)

    @property
    def endpoint(self) -> str | None:
        return self.location.endpoint

    def local_bridge_gateways(self) -> list[str]:
        """The engine's bridge gateways that are addresses of this machine (a local Linux engine's)."""
        return [address for address in self.bridge_gateways if is_local_address(address)]


def docker_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    configured = environ.get("DOCKER_CONFIG")
    return Path(configured).expanduser() if configured else Path.home() / ".docker"


def locate_engine(environ: Mapping[str, str] | None = None) -> EngineLocation:
    """The endpoint the Docker CLI would use, with the context that named it."""
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_HOST"):
        return EngineLocation(environ["DOCKER_HOST"], None, "DOCKER_HOST")
    config = docker_config_dir(environ)
    name = environ.get("DOCKER_CONTEXT") or _current_context(config)
    if not name or name == "default":
        return EngineLocation(DEFAULT_ENDPOINT, "default", "the default socket")
    source = "DOCKER_CONTEXT" if environ.get("DOCKER_CONTEXT") else f"currentContext in {config / 'config.json'}"
    endpoint = _context_endpoint(config, name)
    if endpoint is None:
        return EngineLocation(None, name, source, f"Docker context {name!r} ({source}) was not found")
    return EngineLocation(endpoint, name, source)


def _current_context(config: Path) -> str | None:
    try:
        return json.loads((config / "config.json").read_text()).get("currentContext") or None
    except (OSError, ValueError, AttributeError):
        return None


def _context_endpoint(config: Path, name: str) -> str | None:
    """From the context's meta.json, where the CLI stores it; else from ``docker context inspect``."""
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    try:
        host = json.loads(meta.read_text())["Endpoints"]["docker"]["Host"]
        if host:
            return host
    except (OSError, ValueError, KeyError, TypeError):
        pass
    docker = shutil.which("docker")
    if docker is None:
        return None
    result = subprocess.run(
        [docker, "context", "inspect", name, "--format", "{{.Endpoints.docker.Host}}"],
        capture_output=True, text=True, timeout=10,
        env={**os.environ, "DOCKER_CONFIG": str(config)},
    )
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def _context_tls_dir(location: EngineLocation) -> Path | None:
    if not location.context or location.context == "default":
        return None
    digest = hashlib.sha256(location.context.encode()).hexdigest()
    directory = docker_config_dir() / "contexts" / "tls" / digest / "docker"
    return directory if directory.is_dir() else None


def docker_client(location: EngineLocation | None = None, timeout: int = 10):
    """A docker-py client for the engine the CLI would use."""
    import docker

    location = location or locate_engine()
    if location.endpoint is None:
        raise docker.errors.DockerException(location.problem or "no Docker engine")
    if location.source == "DOCKER_HOST":
        return docker.from_env(timeout=timeout)  # also honours DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
    tls: bool | docker.tls.TLSConfig = False
    directory = _context_tls_dir(location)
    if directory is not None:
        tls = docker.tls.TLSConfig(
            client_cert=(str(directory / "cert.pem"), str(directory / "key.pem")),
            ca_cert=str(directory / "ca.pem") if (directory / "ca.pem").exists() else None,
            verify=(directory / "ca.pem").exists(),
        )
    return docker.DockerClient(base_url=location.endpoint, timeout=timeout, tls=tls)


def engine_kind(info: dict, version: dict | None = None, endpoint: str | None = None) -> str:
    """Classify an engine from its ``docker info`` (and ``docker version``) documents."""
    operating_system = str(info.get("OperatingSystem") or "")
    name = str(info.get("Name") or "")
    components = [str(part.get("Name", "")) for part in (version or {}).get("Components") or [] if isinstance(part, dict)]
    if "Docker Desktop" in operating_system:
        return DESKTOP
    if operating_system == "OrbStack" or name == "orbstack":
        return ORBSTACK
    if name == "lima-rancher-desktop" or "rancher-desktop" in name:
        return RANCHER
    if name == "colima" or name.startswith("colima-"):
        return COLIMA
    if "Podman Engine" in components or "podman" in (endpoint or "") or "podman" in str(info.get("ServerVersion", "")).lower():
        return PODMAN
    return LINUX


def detect_docker_host() -> DockerHost:
    """The engine the CLI would use, its kind and bridge gateways; kind ``none`` when it does not answer.

    When none answers because Rancher Desktop runs containerd, ``problem`` and ``fix`` say so."""
    docker = _inspect_engine(locate_engine())
    if docker.kind == NO_ENGINE:
        rancher = rancher_containerd_problem(docker.location)
        if rancher is not None:
            return replace(docker, problem=f"{rancher}; {docker.problem or 'no Docker engine answers'}", fix=RANCHER_MOBY_FIX)
    return docker


RANCHER_CONTAINERD = (
    "Rancher Desktop runs containerd (nerdctl); compose-models needs its dockerd (moby) engine: "
    "Preferences → Container Engine → dockerd (moby)"
)
RANCHER_MOBY_FIX = (
    "start Rancher Desktop with Preferences → Container Engine → dockerd (moby) (or `rdctl set --container-engine.name=moby`); "
    "its Docker socket is then ~/.rd/docker.sock (context rancher-desktop)"
)
# Where Rancher Desktop keeps its settings: macOS, then Linux.
RANCHER_SETTINGS = ("Library/Preferences/rancher-desktop/settings.json", ".config/rancher-desktop/settings.json")


def rancher_desktop_engine(home: Path | None = None) -> str | None:
    """The container engine Rancher Desktop is set to, ``containerd`` or ``moby``, from its settings file
    (``containerEngine.name``; ``kubernetes.containerEngine`` before settings version 5); None without one."""
    home = Path.home() if home is None else home
    for relative in RANCHER_SETTINGS:
        try:
            settings = json.loads((home / relative).read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(settings, dict):
            continue
        engine = settings.get("containerEngine")
        name = engine.get("name") if isinstance(engine, dict) else None
        if name is None and isinstance(settings.get("kubernetes"), dict):
            name = settings["kubernetes"].get("containerEngine")
        if isinstance(name, str) and name:
            return name
    return None


def rancher_containerd_problem(location: EngineLocation, home: Path | None = None) -> str | None:
    """Why no engine answers, when the reason is likely Rancher Desktop's containerd mode, which has no Docker API.

    Only for an endpoint Rancher Desktop could be behind: its context or socket (``~/.rd/docker.sock``), or the
    default socket (which it links in moby mode with administrative access). Its settings file says which
    engine it runs; without one, ``~/.rd/bin/nerdctl`` present and ``~/.rd/docker.sock`` absent means it is
    stopped or runs containerd."""
    home = Path.home() if home is None else home
    endpoint, context = location.endpoint or "", (location.context or "").lower()
    if not ("/.rd/" in endpoint or "rancher" in context or endpoint == DEFAULT_ENDPOINT):
        return None
    engine = rancher_desktop_engine(home)
    if engine == "containerd":
        return RANCHER_CONTAINERD
    if engine is None and (home / ".rd" / "bin" / "nerdctl").exists() and not (home / ".rd" / "docker.sock").exists():
        return (f"Rancher Desktop is installed ({home / '.rd' / 'bin' / 'nerdctl'}) but gives no Docker socket "
                f"({home / '.rd' / 'docker.sock'}): it is stopped, or runs containerd (nerdctl); compose-models needs "
                "its dockerd (moby) engine: Preferences → Container Engine → dockerd (moby)")  # fmt: skip
    return None


@lru_cache(maxsize=8)
def _inspect_engine(location: EngineLocation) -> DockerHost:
    if location.endpoint is None:
        return DockerHost(NO_ENGINE, location, problem=location.problem)
    try:
        info, version, bridge = _engine_documents(location, timeout=5)
    except Exception as error:  # no engine, no permission, no socket: reported, not raised
        return DockerHost(NO_ENGINE, location, problem=f"the Docker engine at {location.endpoint} did not answer: {error}")
    return DockerHost(engine_kind(info, version, location.endpoint), location, bridge_gateways(bridge), info=info)


_ENGINE_DOCUMENTS = ("/info", "/version", "/networks/bridge")
_ENGINE_ANSWER_BYTES = 16 * 1024 * 1024


def _engine_documents(location: EngineLocation, timeout: float) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The engine's info, version and bridge network.

    A unix socket (the local engines, and every desktop's) is asked with the standard library's
    http.client: docker-py, with requests and urllib3, costs more to import than ``status`` takes otherwise,
    and ``status`` is asked on every ``docker compose up``. Other endpoints (tcp with TLS, ssh) go through docker-py."""
    endpoint = location.endpoint or ""
    if not endpoint.startswith("unix://"):
        client = docker_client(location, timeout=int(timeout))
        try:
            return client.info(), client.version(), client.networks.get("bridge").attrs
        finally:
            client.close()
    connection = _UnixHTTPConnection(endpoint.removeprefix("unix://"), timeout)
    documents = []
    try:
        for path in _ENGINE_DOCUMENTS:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read(_ENGINE_ANSWER_BYTES + 1)
            if response.status != 200 or len(body) > _ENGINE_ANSWER_BYTES:
                raise OSError(f"GET {path}: HTTP {response.status}: {body[:200].decode(errors='replace').strip()}")
            documents.append(json.loads(body))
    finally:
        connection.close()
    info, version, bridge = documents
    return info, version, bridge


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def bridge_gateways(bridge: dict) -> tuple[str, ...]:
    """The IPv4 gateways of the engine's default bridge network (``docker network inspect bridge``).

    Some engines (Debian's 20.10) list only the subnet: then the gateway is the bridge interface's
    address when this machine has that interface with an address in the subnet, else the subnet's
    first address, as Docker assigns by default.
    """
    gateways = []
    interface = (bridge.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    for pool in (bridge.get("IPAM") or {}).get("Config") or []:
        if pool.get("Gateway"):
            gateways.append(pool["Gateway"])
            continue
        try:
            subnet = ipaddress.ip_network(pool.get("Subnet", ""), strict=False)
        except ValueError:
            continue
        address = _interface_address(interface)
        if address is not None and ipaddress.ip_address(address) in subnet:
            gateways.append(address)
        elif subnet.num_addresses > 2:
            gateways.append(str(next(subnet.hosts())))
    return tuple(address for address in gateways if ":" not in address)


def _interface_address(interface: str) -> str | None:
    """IPv4 address of a network interface (Linux only), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            packed = struct.pack("256s", interface.encode()[:15])
            return socket.inet_ntoa(fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, packed)[20:24])
    except OSError:
        return None


def is_local_address(address: str) -> bool:
    """True when ``address`` belongs to an interface of this machine: only then can a socket bind it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True
