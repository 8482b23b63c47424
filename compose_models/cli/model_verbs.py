"""Model verbs, as ``docker model`` has them: pull, push, package, ls, inspect, tag, rm, df.

Each verb imports the store's modules it uses when it runs: packaging reads GGUF files (numpy, gguf),
pulling and pushing talk to registries (httpx, pydantic), and ``ls --json`` needs neither.
"""

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from compose_models.cli import app, quick_verbs
from compose_models.cli.tables import format_table
from compose_models.errors import UserError

InsecureOption = Annotated[bool, typer.Option("--insecure", help="Talk plain HTTP to the registry")]


class ArtifactFormat(str, Enum):
    docker = "docker"
    cncf = "cncf"


@app.command()
def pull(
    reference: Annotated[
        str, typer.Argument(help="Model reference, e.g. ai/smollm2, localhost:5000/team/m:v1 or hf.co/org/repo:Q4_K_M")
    ],
    insecure: InsecureOption = False,
) -> None:
    """Pull a model from an OCI registry, or build it from a Hugging Face repository, into the local store."""
    from compose_models.store import ModelStore
    from compose_models.store.pull import pull_model
    from compose_models.store.transfer_progress import transfer_display

    with transfer_display() as transfers:
        result = pull_model(ModelStore.default(), reference, insecure, transfers)
    if result.cached:
        typer.echo(f"Using cached model: {result.model.config.get('size', '')}")
    else:
        typer.echo("Model pulled successfully")


@app.command()
def push(
    reference: Annotated[str, typer.Argument(help="Tag of a local model, naming the registry to push to")],
    insecure: InsecureOption = False,
) -> None:
    """Push a model from the local store to an OCI registry."""
    from compose_models.store import ModelStore
    from compose_models.store.push import push_model
    from compose_models.store.transfer_progress import transfer_display

    with transfer_display() as transfers:
        digest = push_model(ModelStore.default(), reference, insecure, transfers)
    typer.echo(f"Model pushed successfully: {digest}")


@app.command()
def package(
    target: Annotated[str, typer.Argument(help="Reference to tag the new model with, e.g. myorg/model:v1")],
    gguf: Annotated[Optional[Path], typer.Option("--gguf", help="GGUF file (the first shard of a split model)")] = None,
    safetensors_dir: Annotated[
        Optional[Path], typer.Option("--safetensors-dir", help="Directory of safetensors weights and configs")
    ] = None,
    source: Annotated[Optional[str], typer.Option("--from", help="Stored model to repackage")] = None,
    context_size: Annotated[
        Optional[int], typer.Option("--context-size", help="Context size in tokens (default: from the model)")
    ] = None,
    license_files: Annotated[
        list[Path], typer.Option("--license", "-l", help="License file to include (repeatable)")
    ] = [],
    chat_template: Annotated[Optional[Path], typer.Option("--chat-template", help="Jinja chat template")] = None,
    mmproj: Annotated[Optional[Path], typer.Option("--mmproj", help="Multimodal projector GGUF")] = None,
    artifact_format: Annotated[
        ArtifactFormat, typer.Option("--format", help="docker, or cncf for a CNCF ModelPack artifact")
    ] = ArtifactFormat.docker,
    push_after: Annotated[bool, typer.Option("--push", help="Push TARGET to its registry afterwards")] = False,
    insecure: InsecureOption = False,
) -> None:
    """Package a GGUF file, a safetensors directory or a stored model into a model artifact."""
    if sum(option is not None for option in (gguf, safetensors_dir, source)) != 1:
        raise UserError("package needs exactly one of --gguf FILE, --safetensors-dir DIR or --from REF")
    from compose_models.store import ModelStore, normalize_reference
    from compose_models.store.packaging import PackageOptions, package_gguf, package_safetensors_dir, repackage
    from compose_models.store.push import push_model
    from compose_models.store.transfer_progress import transfer_display

    store = ModelStore.default()
    cncf = artifact_format == ArtifactFormat.cncf
    if gguf is not None:
        model = package_gguf(store, gguf, target, context_size, license_files, chat_template, mmproj, cncf)
    else:
        options = PackageOptions(context_size, license_files, chat_template, mmproj, cncf)
        if safetensors_dir is not None:
            model = package_safetensors_dir(store, safetensors_dir, target, options)
        else:
            model = repackage(store, str(source), target, options)
    tag = normalize_reference(target)
    typer.echo(f"Model packaged successfully: {tag}")
    if push_after:
        with transfer_display() as transfers:
            push_model(store, tag, insecure, transfers)
        typer.echo(f"Model pushed successfully: {tag}")
    typer.echo(model.id)


@app.command("ls")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the models as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print model IDs")] = False,
) -> None:
    """List the models in the local store."""
    quick_verbs.list_models(as_json, quiet)


@app.command()
def inspect(
    reference: Annotated[str, typer.Argument(help="Model tag or ID")],
    remote: Annotated[bool, typer.Option("--remote", "-r", help="Read the model from its registry")] = False,
    insecure: InsecureOption = False,
) -> None:
    """Show a model's ID, tags, creation time and config as JSON."""
    from compose_models.store import ModelStore
    from compose_models.store.gojson import go_marshal_indent
    from compose_models.store.pull import fetch_remote_model

    model = fetch_remote_model(reference, insecure) if remote else ModelStore.default().get(reference)
    document = model.to_dmr_json()
    if not remote:
        document.update(_runner_configuration(model.id))
    typer.echo(go_marshal_indent(document, 4).decode())


def _runner_configuration(model_id: str) -> dict:
    """The runner's configuration of the model, when the runner is up and the model has one: each setting with
    where it came from, and the Compose projects that keep it loaded. Nothing (DMR's shape) otherwise."""
    from compose_models.runner.control import daemon
    from compose_models.runner.control.client import RunnerClient

    state = daemon.running_runner()
    if state is None:
        return {}
    entry = RunnerClient(state).configuration(model_id)
    if not entry.get("Config") and not entry.get("PinnedBy"):
        return {}
    return {"runner_configuration": {"settings": entry["Config"], "from": entry["Sources"], "pinned_by": entry["PinnedBy"]}}


@app.command()
def tag(
    source: Annotated[str, typer.Argument(help="Existing model tag or ID")],
    target: Annotated[str, typer.Argument(help="New tag")],
) -> None:
    """Give a model another tag (moving the tag off any other model)."""
    from compose_models.store import ModelStore

    new_tag = ModelStore.default().tag(source, target)
    typer.echo(f"Model tagged successfully with {json.dumps(new_tag)}")


@app.command()
def rm(
    references: Annotated[list[str], typer.Argument(help="Model tags or IDs")],
    force: Annotated[bool, typer.Option("--force", "-f", help="Delete a model that has several tags")] = False,
) -> None:
    """Remove tags, and models left without tags (blobs shared with other models are kept)."""
    from compose_models.store import ModelStore

    store = ModelStore.default()
    for reference in references:
        for action in store.remove(reference, force=force):
            for verb, value in action.items():
                typer.echo(f"{verb}: {value}")


@app.command()
def df() -> None:
    """Show the disk space used by the model store."""
    from compose_models.store import ModelStore
    from compose_models.units import human_size

    typer.echo(format_table([("TYPE", "SIZE"), ("Models", human_size(ModelStore.default().disk_usage()))]), nl=False)
