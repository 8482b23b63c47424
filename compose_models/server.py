"""The runner's process: the runner's app behind the gateway and the tap, bound to loopback (and a
local engine's bridge), its state recorded for the CLI, served until stopped.

The one module that puts the runner and the gateway together, so that neither imports the other."""

import ipaddress
import os
import ssl
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from compose_models.gateway.middleware import Gateway
from compose_models.gateway.proxy import UpstreamProxy
from compose_models.gateway.settings import GatewaySettings
from compose_models.home import home_dir, private_state_dirs, store_dir
from compose_models.log import say
from compose_models.runner.api.dmr.wire import dashboard_row, remote_models_json
from compose_models.runner.app import body_reader, create_app, tapped
from compose_models.runner.backends.leftovers import EngineRecords
from compose_models.runner.control.listening import bind_addresses, listen_addresses
from compose_models.runner.control.state import RunnerState, clear_state, write_state
from compose_models.runner.control.tls import TlsFiles, configured_tls, for_containers, server_context
from compose_models.runner.http.body_reader import BodyReader
from compose_models.runner.http.host_check import HostCheck
from compose_models.runner.observability.tap import Tap
from compose_models.runner.reach.host_names import allowed_host_names
from compose_models.runner.reach.proof import new_secret
from compose_models.runner.routes import RouteTable
from compose_models.runner.services import services_of
from compose_models.runner.upstreams.config import configured_upstreams_path, load_upstreams
from compose_models.store.leftovers import sweep_leftovers

PURE_PYTHON_VARIABLE = "COMPOSE_MODELS_PURE_PYTHON_HTTP"  # "1": asyncio's own loop and h11, even when uvloop is here


def runner_front(runner: Starlette, settings: GatewaySettings) -> ASGIApp:
    """The runner's app behind the gateway, both behind the tap."""
    services = services_of(runner)
    reader = body_reader(runner)
    gateway = Gateway(
        reader, settings, registry=services.metrics.registry,
        loaded_models=lambda: [dashboard_row(engine) for engine in services.scheduler.running()]
        + [{**row, "memory": None, "unloads_in": None} for row in remote_models_json(services.remote_models)],
    )  # fmt: skip
    reader.check = gateway.check_model  # a key's models, once the reader has found the request's
    return tapped(runner, inner=gateway, listeners=[gateway.finished])


def with_gateway(app: ASGIApp, settings: GatewaySettings) -> ASGIApp:
    """Another app (the proxy to a remote runner) behind the gateway and a tap that counts tokens
    from the answers' bytes, since no engine call of this process reports them."""
    reader = BodyReader(app)
    gateway = Gateway(reader, settings)
    reader.check = gateway.check_model
    return Tap(gateway, RouteTable().kind, listeners=[gateway.finished], count_tokens=True)


def only_its_hosts(app: ASGIApp, listening: list[str], extra: Sequence[str] = ()) -> ASGIApp:
    """``app`` answering only requests whose ``Host`` names it (no DNS rebinding), in front of everything;
    ``extra`` are names the user allows besides its own."""
    table = RouteTable()
    names = [*allowed_host_names(listening), *extra]
    return HostCheck(app, names, lambda method, path: table.kind(method, path).dialect)


def serve(hosts: list[str], port: int) -> None:
    os.umask(0o077)  # every log, key and record this process creates is its user's alone
    upstreams = load_upstreams(*configured_upstreams_path())
    logs = private_state_dirs()
    for done in EngineRecords().end_leftovers():  # engines a dead runner left running, holding memory
        say(done)
    gateway_settings = GatewaySettings.for_runner(logs)
    addresses = listen_addresses(hosts, with_api_keys=bool(gateway_settings.keys))
    sockets, bound, choice = bind_addresses(addresses, port, requested=bool(hosts))
    if note := choice.note():
        say(note)
    secret = new_secret()
    for leftover in sweep_leftovers(store_dir()):
        say(f"removed {leftover}, left by a store writer that is gone")
    runner_app = create_app(store_dir(), logs, upstreams, reach_secret=secret)
    app = only_its_hosts(runner_front(runner_app, gateway_settings), bound)
    tls = configured_tls(certificate_names(bound))
    if tls is not None:
        say(f"serving TLS with {tls.cert}" + (f" (clients trust {tls.ca})" if tls.ca else ""))
    write_state(RunnerState(
        pid=os.getpid(), port=choice.port, hosts=bound, reach_secret=secret,
        preferred_port=choice.preferred if choice.holder else None, preferred_port_holder=choice.holder,
        tls_cert=str(tls.cert) if tls else None, tls_ca=str(tls.ca) if tls and tls.ca else None,
        tls_for_containers=bool(tls) and for_containers(),
    ))
    try:
        # No proxy headers: a caller is the socket's peer, never what its ``X-Forwarded-For`` claims.
        loop, http = event_loop_and_parser()
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, timeout_graceful_shutdown=5, proxy_headers=False,
            **(tls_options(tls, bound, http) or {"loop": loop, "http": http}),
        )  # fmt: skip
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        clear_state(os.getpid())


def serve_gateway(
    upstream: str, upstream_key: str | None, host: str, port: int, allowed_hosts: Sequence[str], started: Callable[[], None]
) -> None:
    """The llm-gateway's process: the gateway (its keys and limits from the environment) in front of a proxy to
    the runner at ``upstream``, on ``host``:``port``; ``started`` once its settings are read and its address allowed."""
    settings = GatewaySettings.from_environment(home_dir() / "gateway" / "logs")
    [host] = listen_addresses([host], with_api_keys=bool(settings.keys))
    proxy = UpstreamProxy(upstream, upstream_key)
    started()
    # On every address too (0.0.0.0): a web page rebinding its own name to this gateway still sends that name.
    listening = [] if ipaddress.ip_address(host).is_unspecified else [host]
    app = only_its_hosts(with_gateway(proxy, settings), listening, extra=allowed_hosts)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, proxy_headers=False)


def certificate_names(listening: list[str]) -> list[str]:
    """What a certificate the runner issues itself names: every name and address it answers to (this
    machine's, the containers' host names, the addresses it listens on), less an unspecified address."""
    return [name for name in allowed_host_names(listening) if not _unspecified(name)]


def _unspecified(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


def tls_options(tls: TlsFiles | None, listening: list[str], http: str | type) -> dict[str, Any]:
    """uvicorn's options for TLS on every socket, except that the local Docker bridge keeps plain HTTP for
    containers (which could not verify the certificate) unless ``--tls-for-containers``; ``http`` is the
    protocol (event_loop_and_parser's) each connection is served with."""
    if tls is None:
        return {}
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from compose_models.docker_host import detect_docker_host
    from compose_models.runner.http.tls_port import tls_port_protocol

    bridge = set(detect_docker_host().local_bridge_gateways()) & set(listening)
    plain = set() if for_containers() else bridge
    context, small = server_context(tls), server_context(tls, small_clients=True)

    def context_for(address: str) -> ssl.SSLContext:
        return small if address in bridge else context

    # asyncio's loop: the connection's first byte is peeked on a duplicate socket, which uvloop refuses.
    return {"http": tls_port_protocol(http if isinstance(http, type) else H11Protocol, context_for, plain.__contains__), "loop": "asyncio"}


def event_loop_and_parser() -> tuple[str, str | type]:
    """uvloop and httptools (with a bound on a request's head) where they are installed: they relay a
    stream for a fraction of the CPU time. Else asyncio's loop and h11, which is also what
    ``COMPOSE_MODELS_PURE_PYTHON_HTTP=1`` asks for."""
    if os.environ.get(PURE_PYTHON_VARIABLE) == "1":
        return "asyncio", "h11"
    loop = "uvloop" if _importable("uvloop") else "asyncio"
    if not _importable("httptools"):
        return loop, "h11"
    from compose_models.runner.http.bounded_httptools import BoundedHttpToolsProtocol

    return loop, BoundedHttpToolsProtocol


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True
