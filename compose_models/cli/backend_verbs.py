"""Backend verbs: install-runner --backend llama-server."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from compose_models.cli import app
from compose_models.errors import UserError
from compose_models.runner.backends import llama_cpp_python, llama_server, mlx, smoke_test
from compose_models.runner.backends.llama_server_build import cached_binary, install_llama_server, prove_build

_BACKENDS = ("llama-server", "llama-cpp-python", "mlx")


@app.command("install-runner")
def install_runner(
    backend: Annotated[str, typer.Option("--backend", help=f"Backend to install: {', '.join(_BACKENDS)}")] = "llama-server",
    source: Annotated[Optional[Path], typer.Option(
        "--source", help="llama-cpp-python sdist (.tar.gz) or llama.cpp tree to build from, instead of fetching it"
    )] = None,
    force: Annotated[bool, typer.Option("--force", help="Build again even if a build is cached")] = False,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help="Parallel compile jobs")] = None,
) -> None:
    """Install an inference backend and prove it computes one token here. llama-server is built once per
    machine from llama.cpp's sources."""
    if backend == "llama-server":
        found = llama_server.find_binary()
        if found and found != cached_binary() and not force:
            typer.echo(f"llama-server is already installed: {found} (from ${llama_server.PATH_VARIABLE} or PATH)")
        else:
            found = install_llama_server(source, force=force, jobs=jobs, log=typer.echo)
        prove_build(found, log=typer.echo)
    elif backend == "llama-cpp-python":
        result = smoke_test.llama_cpp_python_verdict()
        if not result.ok:
            raise UserError(f"llama-cpp-python is installed but cannot compute on this machine: {result.detail}")
        typer.echo(
            f"llama-cpp-python {llama_cpp_python.version()} answers: one token ({result.detail}) "
            f"with CPU {' '.join(result.features())}"
        )
    elif backend == "mlx":
        reason = mlx.unavailable_reason()
        if reason:
            raise UserError(reason)
        typer.echo(f"mlx-lm {mlx.version()} is installed")
    else:
        raise UserError(f"unknown backend {backend!r} (backends: {', '.join(_BACKENDS)})")
