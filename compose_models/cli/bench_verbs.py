"""The bench verb: tokens per second and time to first token at several concurrent streams, through the
runner as a container calls it and, with ``--direct``, straight to the model's engine."""

import functools
from typing import Annotated, Any

import typer

from compose_models.cli import app
from compose_models.errors import UserError

DEFAULT_CONCURRENCY = "1,2,4,8"
MAX_CONCURRENCY = 64
MAX_REQUESTS = 10_000
MAX_TOKENS = 8192


@app.command()
def bench(
    model: Annotated[str | None, typer.Argument(help="Model reference (default: the embedded model, else the first `ls` lists)")] = None,
    concurrency: Annotated[str, typer.Option(
        "--concurrency", "-c", help="Concurrent streams of each level, comma-separated")] = DEFAULT_CONCURRENCY,
    requests: Annotated[int, typer.Option(
        "--requests", "-n", min=1, max=MAX_REQUESTS, help="Requests at each level (at least its concurrency)")] = 8,
    max_tokens: Annotated[int, typer.Option(
        "--max-tokens", min=1, max=MAX_TOKENS, help="Tokens each request may generate")] = 64,
    direct: Annotated[bool, typer.Option(
        "--direct", help="Also measure the model's engine straight, past the runner, in turns with it")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (keys in the README's `bench` section)")] = False,
) -> None:
    """Tokens/s and time to first token (p50, p95) at 1, 2, 4 and 8 concurrent streams, like `docker model bench`."""
    import asyncio
    import json

    levels = parse_levels(concurrency)
    reference = _model_to_measure(model)
    document = asyncio.run(_measure(reference, levels, requests, max_tokens, direct, json_output))
    if json_output:
        print(json.dumps(document, indent=2))
    else:
        _print_table(document)
    failed = sum(level["failed"] for level in document["results"])
    if failed:
        raise UserError(f"bench {reference}: {failed} request(s) failed; the first: {document['errors'][0]}")


def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        levels = []
    if not levels or any(not 1 <= level <= MAX_CONCURRENCY for level in levels):
        raise UserError(f"--concurrency {text!r}: expected comma-separated numbers from 1 to {MAX_CONCURRENCY}, e.g. 1,2,4,8")
    return levels


def _model_to_measure(model: str | None) -> str:
    """The named model when the store has it; without a name, the embedded model, else the first ``ls`` lists."""
    from compose_models.default_model import DEFAULT_MODEL_TAG
    from compose_models.store import ModelStore, display_name

    store = ModelStore.default()
    if model is not None:
        if store.find(model) is None:
            raise UserError(f"bench: model {model!r} is not in the local store: `compose-models pull {model}` first (see `compose-models ls`)")
        return model
    if store.find(DEFAULT_MODEL_TAG) is not None:
        return DEFAULT_MODEL_TAG
    names = sorted((display_name(tag) for stored in store.models() for tag in stored.tags), key=str.lower)
    if not names:
        raise UserError("bench: no model in the local store: name one to pull, or package one (`compose-models package --gguf FILE NAME`)")
    return names[0]


async def _measure(model: str, levels: list[int], requests: int, max_tokens: int, direct: bool,
                   quiet: bool) -> dict[str, Any]:  # fmt: skip
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from compose_models.cli.bench_load import Target, run_level, warm_up
    from compose_models.runner.control import daemon
    from compose_models.runner.control.local_key import local_auth_headers
    from compose_models.runner.control.state import default_port

    state = daemon.ensure_running(default_port())
    through_runner = Target("runner", f"{state.host_url}/engines/v1", model, local_auth_headers())
    error = await warm_up(through_runner)
    if error:
        raise UserError(f"bench {model}: the model did not answer through the runner: {error}")
    targets = [through_runner]
    engine = _engine_of(model, required=direct)
    if direct:
        targets.append(Target("direct", f"{engine['url']}/v1", engine["alias"], {"Authorization": f"Bearer {engine['key']}"}))
    results = []
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=quiet or not console.is_terminal) as progress:
        for level in levels:
            for target in targets:  # in turns, so that other work on the machine falls on both alike
                count = max(requests, level)
                task = progress.add_task(f"{target.name}: {level} stream(s)", total=count)
                measured = await run_level(target, level, count, max_tokens, functools.partial(progress.advance, task))
                progress.remove_task(task)
                if not quiet and not console.is_terminal:
                    console.print(f"{target.name}: {level} stream(s) done", highlight=False)
                results.append(measured)
    errors = [f"{level.target}: {outcome.error}" for level in results for outcome in level.outcomes if outcome.error]
    return {
        "model": model,
        "runner": state.host_url,
        "engine": engine.get("backend"),
        "max_tokens": max_tokens,
        "results": [level.as_json() for level in results],
        "errors": errors[:10],
    }


def _engine_of(model: str, required: bool) -> dict[str, str]:
    """The loaded engine of ``model`` (its backend, URL, alias and key), from the runner's management API,
    which answers this machine's CLI alone; when not ``required``, empty if the runner does not say."""
    from compose_models.cli.quick_verbs import require_runner_state
    from compose_models.runner.control.local_http import local_get
    from compose_models.runner.control.local_key import local_auth_headers

    response = local_get(f"{require_runner_state().host_url}/engines/ps?engine", headers=local_auth_headers(), timeout=30)
    if response.status_code != 200:
        if not required:
            return {}
        raise UserError(f"bench --direct: the runner refused to show its engines: {response.text.strip()}")
    running = response.json()
    for entry in running:
        if entry.get("model_name") == model and "engine" in entry:
            return entry["engine"]
    found = [entry for entry in running if "engine" in entry]
    if len(found) == 1:  # the model was asked for under another of its names
        return found[0]["engine"]
    if not required:
        return {}
    raise UserError(f"bench --direct: the runner shows no running engine for {model!r} (see `compose-models ps`)")


def _print_table(document: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    def shown(value: object, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    title = f"{document['model']}, {document['max_tokens']} tokens a request, times in ms"
    if document["engine"]:
        title += f" (engine: {document['engine']})"
    table = Table(title=title)
    for header in ("target", "streams", "reqs", "failed", "tok/s", "tok/s/stream", "TTFT p50", "TTFT p95",
                   "latency p50", "latency p95"):  # fmt: skip
        table.add_column(header, justify="left" if header == "target" else "right", no_wrap=True)
    runner_rate: dict[int, float] = {}
    for level in document["results"]:
        rate = level["tokens_per_second"]
        if level["target"] == "runner":
            runner_rate[level["concurrency"]] = rate
        table.add_row(
            level["target"], str(level["concurrency"]), str(level["requests"]), str(level["failed"]), shown(rate),
            shown(level["stream_tokens_per_second_p50"]), shown(level["ttft_ms_p50"], 0), shown(level["ttft_ms_p95"], 0),
            shown(level["latency_ms_p50"], 0), shown(level["latency_ms_p95"], 0),
        )  # fmt: skip
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 120))  # piped: rich would assume 80 columns and cut the headers
    console.print(table)
    direct = {level["concurrency"]: level["tokens_per_second"] for level in document["results"] if level["target"] == "direct"}
    ratios = [f"{streams}: {runner_rate[streams] / rate:.2f}" for streams, rate in direct.items() if rate and streams in runner_rate]
    if ratios:
        console.print("runner / direct tokens/s at each concurrency: " + ", ".join(ratios), highlight=False)
