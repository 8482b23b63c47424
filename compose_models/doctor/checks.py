"""Every check the doctor runs, in the order a user would look."""

from compose_models.doctor import machine
from compose_models.doctor.report import FAIL, Finding


def run_checks() -> list[Finding]:
    checks = [machine.build_findings, machine.offload_finding, machine.memory_finding, machine.store_finding]
    findings: list[Finding] = []
    for check in checks:
        try:
            found = check()
        except Exception as error:  # a check that cannot run is itself a finding, never a traceback
            found = Finding(check.__name__.removesuffix("_finding").removesuffix("_findings"), FAIL,
                            f"the check could not run: {error}")  # fmt: skip
        findings.extend(found if isinstance(found, list) else [found])
    return findings
