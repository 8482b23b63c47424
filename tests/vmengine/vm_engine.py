"""A stand-in for a Mac VM engine (colima, Rancher Desktop, Podman): a second dockerd in its own network
namespace, so its containers reach this host only the way a Mac VM's containers reach the Mac.

This host's end of a veth pair carries lima's host address 192.168.5.2, the namespace's end the VM's
192.168.5.15. dnsmasq in the namespace resolves the engine's host names to 192.168.5.2, and socat on
192.168.5.2 forwards one port to this host's 127.0.0.1 (lima's port forwarding): the only way a server on
this host's loopback is reachable from the namespace's containers. There is no NAT (--iptables=false): this
host routes replies to the containers' subnets through the namespace.
"""

import base64
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import ThreadingUnixStreamServer

import httpx

NETNS = "cm-vm"
HOST_VETH = "cm-vm-host"
VM_VETH = "cm-vm-ns"
GATEWAY = "192.168.5.2"  # lima's address for the host
VM_ADDRESS = "192.168.5.15"  # lima's address for the VM
# The VM's docker0 and its container networks, outside this host's own ranges (192.0.2.0/24, 172.17.0.0/16).
VM_BRIDGE = "10.99.0.1/24"
VM_POOL = "10.99.128.0/17"
VM_SUBNETS = "10.99.0.0/16"
RUN_DIR = Path("/tmp/compose-models-vmengine")
SOCKET = RUN_DIR / "docker.sock"
PLUGIN_SOCKET = Path("/run/docker/plugins/cm-vm-podman.sock")  # where dockerd looks for plugins
HOST_ENGINE = "unix:///var/run/docker.sock"
IMAGE = "busybox:1.36"


@dataclass(frozen=True)
class Scenario:
    name: str
    host_names: tuple[str, ...]  # what dnsmasq resolves to GATEWAY
    dockerd_flags: tuple[str, ...]


COLIMA = Scenario(
    "colima-like",
    ("host.docker.internal", "host.lima.internal"),
    (f"--bip={VM_BRIDGE}", f"--host-gateway-ip={GATEWAY}"),
)
# No --host-gateway-ip: dockerd's default for host-gateway, the VM's own docker0, which does not reach this host.
RANCHER = Scenario(
    "rancher-like",
    ("host.docker.internal", "host.rancher-desktop.internal", "host.lima.internal"),
    (f"--bip={VM_BRIDGE}",),
)
# Podman rejects host-gateway when a container is created (before containers/common#2464). dockerd 20.10 with no
# host-gateway address writes "<nil>" into /etc/hosts instead, so an authorization plugin rejects it (below).
# Real Podman resolves these names to gvproxy's 192.168.127.254; the stand-in uses the same GATEWAY for all.
PODMAN_PLUGIN = PLUGIN_SOCKET.stem
PODMAN = Scenario(
    "podman-like",
    ("host.containers.internal", "host.docker.internal"),
    (f"--bip={VM_BRIDGE}", f"--authorization-plugin={PODMAN_PLUGIN}"),
)
VM_SCENARIOS = (COLIMA, RANCHER, PODMAN)


class _PodmanHostGateway(BaseHTTPRequestHandler):
    """A dockerd authorization plugin that rejects creating a container with host-gateway, as Podman does."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/Plugin.Activate":
            reply = {"Implements": ["authz"]}
        elif self.path == "/AuthZPlugin.AuthZReq" and _creates_with_host_gateway(request):
            reply = {"Allow": False, "Msg": "host containers internal IP address is empty"}
        else:
            reply = {"Allow": True}
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.plugins.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _creates_with_host_gateway(request: dict) -> bool:
    if request.get("RequestMethod") != "POST" or "/containers/create" not in request.get("RequestUri", ""):
        return False
    body = json.loads(base64.b64decode(request.get("RequestBody") or "") or b"{}")
    extra_hosts = (body.get("HostConfig") or {}).get("ExtraHosts") or []
    return any(entry.replace("=", ":").endswith(":host-gateway") for entry in extra_hosts)


class VmEngine:
    """The namespace and its dockerd; ``use`` (re)starts what a scenario and a forwarded port need."""

    def __init__(self) -> None:
        self._processes: dict[str, subprocess.Popen] = {}
        self._scenario: Scenario | None = None
        self._forwarded: int | None = None
        PLUGIN_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        self._plugin = ThreadingUnixStreamServer(str(PLUGIN_SOCKET), _PodmanHostGateway)
        threading.Thread(target=self._plugin.serve_forever, daemon=True).start()

    @property
    def docker_host(self) -> str:
        return f"unix://{SOCKET}"

    def use(self, scenario: Scenario, forward_port: int | None = None) -> str:
        """Run ``scenario``'s engine, forwarding GATEWAY:``forward_port`` to this host's loopback; its DOCKER_HOST."""
        if scenario != self._scenario:
            self._stop("dockerd", "dnsmasq")
            self._scenario = None
            self._start_dnsmasq(scenario.host_names)
            self._start_dockerd(scenario.dockerd_flags)
            self._scenario = scenario
        if forward_port != self._forwarded:
            self._stop("socat")
            self._forwarded = None
            if forward_port is not None:
                self._start_socat(forward_port)
                self._forwarded = forward_port
        return self.docker_host

    def import_image(self) -> None:
        """Copy busybox, which the tests' containers run, from this host's engine (nothing can be pulled here)."""
        save = subprocess.Popen(["docker", "-H", HOST_ENGINE, "save", IMAGE], stdout=subprocess.PIPE)
        load = subprocess.run(
            ["docker", "-H", self.docker_host, "load", "-q"], stdin=save.stdout, capture_output=True, text=True
        )
        save.stdout.close()
        if save.wait() != 0 or load.returncode != 0:
            raise RuntimeError(f"could not copy {IMAGE} into the VM engine: {load.stderr.strip()}")

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        with open(RUN_DIR / f"{name}.log", "ab") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self._processes[name] = process
        return process

    def _start_dnsmasq(self, host_names: tuple[str, ...]) -> None:
        addresses = [f"--address=/{name}/{GATEWAY}" for name in host_names]
        process = self._spawn("dnsmasq", [
            *_in_netns("dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts", "--pid-file=", "--user=root",
            "--bind-interfaces", f"--listen-address={VM_ADDRESS}", *addresses,
        ])
        _wait_until(lambda: _udp_bound(process.pid), process, "dnsmasq")

    def _start_dockerd(self, flags: tuple[str, ...]) -> None:
        (RUN_DIR / "daemon.json").write_text("{}")  # never this host's /etc/docker/daemon.json
        process = self._spawn("dockerd", [
            *_in_netns("dockerd"), f"--config-file={RUN_DIR / 'daemon.json'}", f"--data-root={RUN_DIR / 'data'}",
            f"--exec-root={RUN_DIR / 'exec'}", f"--pidfile={RUN_DIR / 'dockerd.pid'}", f"-H={self.docker_host}",
            # Apart from this host's engine's containers, should both ever share a system containerd.
            "--containerd-namespace=cm-vm", "--containerd-plugins-namespace=cm-vm-plugins",
            "--storage-driver=vfs", "--iptables=false", "--ip-masq=false",
            f"--default-address-pool=base={VM_POOL},size=24", f"--dns={VM_ADDRESS}", *flags,
        ])
        _wait_until(_pings, process, "dockerd", timeout=60)

    def _start_socat(self, port: int) -> None:
        listen = f"TCP-LISTEN:{port},bind={GATEWAY},reuseaddr,fork"
        process = self._spawn("socat", ["socat", listen, f"TCP:127.0.0.1:{port}"])
        _wait_until(lambda: _tcp_listening(GATEWAY, port), process, "socat")

    def _stop(self, *names: str) -> None:
        for name in names:
            process = self._processes.pop(name, None)
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        self._stop("socat", "dockerd", "dnsmasq")
        self._plugin.shutdown()
        self._plugin.server_close()


@contextmanager
def running_vm_engine() -> Iterator[VmEngine]:
    """The namespace with busybox imported, removed afterwards (and first, if an aborted run left it)."""
    remove_leftovers()
    engine = None
    try:
        RUN_DIR.mkdir(parents=True)
        _create_namespace()
        engine = VmEngine()
        engine.use(COLIMA)
        engine.import_image()
        yield engine
    finally:
        if engine is not None:
            engine.close()
        remove_leftovers()


def _create_namespace() -> None:
    for command in (
        f"netns add {NETNS}",
        f"link add {HOST_VETH} type veth peer name {VM_VETH} netns {NETNS}",
        f"addr add {GATEWAY}/24 dev {HOST_VETH}",
        f"link set {HOST_VETH} up",
        f"-n {NETNS} link set lo up",
        f"-n {NETNS} addr add {VM_ADDRESS}/24 dev {VM_VETH}",
        f"-n {NETNS} link set {VM_VETH} up",
        f"-n {NETNS} route add default via {GATEWAY}",
        f"route add {VM_SUBNETS} via {VM_ADDRESS}",  # replies to the VM's containers (no NAT)
    ):
        subprocess.run(["ip", *command.split()], check=True, capture_output=True)
    subprocess.run([*_in_netns("sysctl"), "-qw", "net.ipv4.ip_forward=1"], check=True)


def remove_leftovers() -> None:
    """Stop every process in the namespace and our socat, delete the namespace and veth, unmount and remove RUN_DIR."""
    dockerd = [pid for pid in _in_netns_pids() if _comm(pid) == "dockerd"]
    socat = [pid for pid in _all_pids() if _comm(pid) == "socat" and f"bind={GATEWAY}" in _cmdline(pid)]
    _terminate(dockerd + socat)  # dockerd first: it stops its containers and containerd, and unmounts
    _terminate(_in_netns_pids())
    subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True)
    subprocess.run(["ip", "link", "delete", HOST_VETH], capture_output=True)
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{RUN_DIR}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    PLUGIN_SOCKET.unlink(missing_ok=True)


def _in_netns(program: str) -> list[str]:
    # Not `ip netns exec`: it remounts /sys, which hides the cgroup mounts dockerd needs.
    return ["nsenter", f"--net=/var/run/netns/{NETNS}", program]


def _in_netns_pids() -> list[int]:
    listed = subprocess.run(["ip", "netns", "pids", NETNS], capture_output=True, text=True).stdout
    return [int(pid) for pid in listed.split()]


def _terminate(pids: list[int], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; through pidfds, so a pid reused meanwhile is never signalled."""
    pidfds = []
    for pid in pids:
        try:
            pidfds.append(os.pidfd_open(pid))
        except ProcessLookupError:
            pass
    try:
        for pidfd in pidfds:
            _send(pidfd, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        running = list(pidfds)
        while running and time.monotonic() < deadline:
            exited, _, _ = select.select(running, [], [], max(0.0, deadline - time.monotonic()))
            running = [pidfd for pidfd in running if pidfd not in exited]
        for pidfd in running:
            _send(pidfd, signal.SIGKILL)
    finally:
        for pidfd in pidfds:
            os.close(pidfd)


def _send(pidfd: int, signum: int) -> None:
    try:
        signal.pidfd_send_signal(pidfd, signum)
    except ProcessLookupError:
        pass


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _comm(pid: int) -> str:
    return _read(f"/proc/{pid}/comm").strip()


def _cmdline(pid: int) -> str:
    return _read(f"/proc/{pid}/cmdline").replace("\0", " ")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _wait_until(ready, process: subprocess.Popen, name: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = (RUN_DIR / f"{name}.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"{name} of the VM engine stand-in did not start:\n" + "\n".join(tail))
        time.sleep(0.05)


def _pings() -> bool:
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(SOCKET)), timeout=2) as client:
            return client.get("http://vm/_ping").status_code == 200
    except httpx.HTTPError:
        return False


def _udp_bound(pid: int) -> bool:
    """dnsmasq has bound port 53 in the namespace (seen through its own /proc/PID/net, which is the namespace's)."""
    return any(line.split()[1].endswith(":0035") for line in _read(f"/proc/{pid}/net/udp").splitlines()[1:])


def _tcp_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
