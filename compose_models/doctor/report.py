"""A doctor's finding, and the table or JSON they are shown as."""

from dataclasses import asdict, dataclass

from rich.console import Console
from rich.table import Table

OK, WARN, FAIL = "ok", "warn", "fail"
_STYLE = {OK: "green", WARN: "yellow", FAIL: "bold red"}


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok, warn or fail
    found: str
    fix: str = ""


def as_json(findings: list[Finding]) -> dict[str, object]:
    return {"ok": not failed(findings), "checks": [asdict(finding) for finding in findings]}


def failed(findings: list[Finding]) -> bool:
    return any(finding.status == FAIL for finding in findings)


def print_table(findings: list[Finding], console: Console) -> None:
    table = Table(show_lines=True)
    for column in ("check", "status", "found", "fix"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        table.add_row(finding.check, f"[{_STYLE[finding.status]}]{finding.status}[/]", finding.found, finding.fix)
    console.print(table)
