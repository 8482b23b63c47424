"""Every check the doctor runs, in the order a user would look."""

from collections.abc import Callable

from compose_models.docker_host import detect_docker_host
from compose_models.doctor import docker_side, machine
from compose_models.doctor.report import FAIL, Finding


def run_checks() -> list[Finding]:
    docker = detect_docker_host()
    checks: list[tuple[str, Callable[[], Finding | list[Finding]]]] = [
        ("Docker engine", lambda: docker_side.engine_finding(docker)),
        ("runner port", docker_side.port_finding),
        ("runner TLS", docker_side.tls_finding),
        ("container route", lambda: docker_side.route_finding(docker)),
        ("docker-model plugin", docker_side.plugin_finding),
        ("engine builds", machine.build_findings),
        ("GPU offload", machine.offload_finding),
        ("memory budget", machine.memory_finding),
        ("model store", machine.store_finding),
    ]
    findings: list[Finding] = []
    for name, check in checks:
        try:
            found = check()
        except Exception as error:  # a check that cannot run is itself a finding, never a traceback
            found = Finding(name, FAIL, f"the check could not run: {error}")
        findings.extend(found if isinstance(found, list) else [found])
    return findings
