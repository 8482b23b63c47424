"""``catalog`` verbs: lint, publish, validate and list the team's model catalog (see docs/catalog.md)."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from compose_models.catalog.lint import lint_reference
from compose_models.catalog.listing import CatalogEntry, list_catalog
from compose_models.catalog.naming import OrgPrefix
from compose_models.catalog.policy import load_policy
from compose_models.catalog.publish import PublishOutcome, PublishSource, publish
from compose_models.catalog.validate import DEFAULT_MAX_TOKENS, DEFAULT_PROMPT, validate
from compose_models.cli import app
from compose_models.cli.model_verbs import InsecureOption
from compose_models.cli.tables import format_table
from compose_models.errors import UserError
from compose_models.store import media_types
from compose_models.store.packaging import PackageOptions
from compose_models.store.transfer_progress import transfer_display
from compose_models.units import gguf_size

catalog = typer.Typer(
    name="catalog",
    help="The team model catalog: lint, publish, validate and list models under a policy (catalog.yaml).",
    no_args_is_help=True,
)
app.add_typer(catalog, name="catalog")

PolicyOption = Annotated[
    Optional[Path], typer.Option("--policy", help="Catalog policy file (default: catalog.yaml here)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]
_LAYER_KINDS = {
    media_types.GGUF: "weights", media_types.SAFETENSORS: "weights", media_types.LICENSE: "license",
    media_types.CHAT_TEMPLATE: "chat template", media_types.MMPROJ: "projector", media_types.MODEL_FILE: "file",
}  # fmt: skip
_LIST_COLUMNS = ("MODEL", "PARAMETERS", "QUANTIZATION", "ARCHITECTURE", "CONTEXT", "SIZE")


@catalog.command()
def lint(
    references: Annotated[list[str], typer.Argument(help="Model tags, in the local store or the registry")],
    policy_file: PolicyOption = None,
    remote: Annotated[bool, typer.Option("--remote", "-r", help="Read from the registry even if stored here")] = False,
    insecure: InsecureOption = False,
) -> None:
    """Check models against the catalog policy; one line per violation, exit 1 if there is any."""
    policy = load_policy(policy_file)
    failed = False
    for reference in references:
        violations = lint_reference(reference, policy, remote, insecure)
        for violation in violations:
            typer.echo(f"{reference}: {violation}")
        if not violations:
            typer.echo(f"{reference}: ok")
        failed = failed or bool(violations)
    if failed:
        raise typer.Exit(1)


@catalog.command("publish")
def publish_model(
    family: Annotated[str, typer.Option("--family", help="Model family in the name, e.g. llama3.2")],
    gguf: Annotated[Optional[Path], typer.Option("--gguf", help="GGUF file (the first shard of a split one)")] = None,
    safetensors_dir: Annotated[
        Optional[Path], typer.Option("--safetensors-dir", help="Directory of an MLX safetensors model")
    ] = None,
    license_files: Annotated[list[Path], typer.Option("--license", "-l", help="License file (repeatable)")] = [],
    chat_template: Annotated[Optional[Path], typer.Option("--chat-template", help="Jinja chat template")] = None,
    context_size: Annotated[
        Optional[int], typer.Option("--context-size", help="Context size in tokens (default: from the model)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Build and lint, print what would be pushed")] = False,
    policy_file: PolicyOption = None,
    insecure: InsecureOption = False,
) -> None:
    """Package a model, tag it by the naming pattern from its own metadata, lint it and push it."""
    policy = load_policy(policy_file)
    source = PublishSource(family, gguf, safetensors_dir, PackageOptions(context_size, license_files, chat_template))
    with transfer_display() as transfers:
        outcome = publish(source, policy, dry_run, insecure, transfers)
    for violation in outcome.violations:
        typer.echo(f"{outcome.reference}: {violation}")
    if outcome.violations:
        raise UserError(f"{outcome.reference} was not pushed: it breaks the catalog policy (see above)")
    if outcome.pushed:
        typer.echo(f"Published {outcome.reference}")
        typer.echo(str(outcome.digest))
    else:
        _describe_dry_run(outcome)


@catalog.command("validate")
def validate_model(
    reference: Annotated[str, typer.Argument(help="Published model tag")],
    as_json: JsonOption = False,
    prompt: Annotated[str, typer.Option("--prompt", help="Smoke prompt")] = DEFAULT_PROMPT,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Most tokens of the answer")] = DEFAULT_MAX_TOKENS,
    insecure: InsecureOption = False,
) -> None:
    """Pull into a fresh temporary store, load on a runner of its own, send a smoke prompt; report."""
    with transfer_display() as transfers:
        report = validate(reference, insecure, prompt, max_tokens, transfers)
    typer.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_text())
    if not report.passed:
        raise UserError(f"validate {report.reference} failed at the {report.failed_step} step: {report.error}")


@catalog.command("list")
def list_models(
    org: Annotated[
        Optional[str], typer.Argument(help="REGISTRY/ORG, e.g. registry.example.com/myorg (default: the policy's)")
    ] = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the tags")] = False,
    model_format: Annotated[
        Optional[str], typer.Option("--format", help="Only models of this format: gguf or safetensors (MLX)")
    ] = None,
    policy_file: PolicyOption = None,
    insecure: InsecureOption = False,
) -> None:
    """The catalog's models: every tag under the organisation, with what its config records."""
    prefix = OrgPrefix.parse(org) if org else load_policy(policy_file).org_prefix
    entries = list_catalog(prefix, insecure)
    if model_format is not None:
        entries = [entry for entry in entries if entry.model and entry.model.config.get("format") == model_format]
    if as_json:
        typer.echo(json.dumps([entry.to_json() for entry in entries], indent=2))
    elif quiet:
        for entry in entries:
            typer.echo(entry.reference)
    else:
        typer.echo(format_table([_LIST_COLUMNS, *map(_list_row, entries)]), nl=False)


def _describe_dry_run(outcome: PublishOutcome) -> None:
    typer.echo(f"Would push {outcome.reference} ({outcome.model.id}), which passes the catalog policy:")
    for layer in outcome.model.layers:
        kind = _LAYER_KINDS.get(layer.media_type, layer.media_type)
        name = layer.annotations.get(media_types.ANNOTATION_FILEPATH, "")
        typer.echo(f"  {kind:<14} {gguf_size(layer.size):>10}  {name}")


def _list_row(entry: CatalogEntry) -> tuple[str, ...]:
    if entry.model is None:
        return (entry.reference, f"(not a model artifact: {entry.problem})", "", "", "", "")
    config = entry.model.config
    context = str(entry.model.context_size or "")
    fields = ("parameters", "quantization", "architecture")
    return (entry.reference, *(str(config.get(name, "")) for name in fields), context, str(config.get("size", "")))
