"""``catalog publish``: package a model, name it from its own metadata, lint it, push it.

The artifact is built in a staging store that is thrown away afterwards, so a refused or dry-run
publish leaves nothing behind, and what is linted is byte for byte what would be pushed.
"""

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from compose_models.catalog.lint import lint_model
from compose_models.catalog.naming import check_family, name_fields
from compose_models.catalog.policy import CatalogPolicy
from compose_models.errors import UserError
from compose_models.store import ModelStore, StoredModel, normalize_reference, package_gguf
from compose_models.store.packaging import PackageOptions, package_safetensors_dir
from compose_models.store.push import push_model
from compose_models.store.transfer_progress import SILENT, Transfers

_STAGING_TAG = "localhost/catalog-staging:pending"


@dataclass(frozen=True)
class PublishSource:
    """What to publish: a GGUF or an MLX safetensors directory, under a family name, with extra files."""

    family: str
    gguf: Path | None = None
    safetensors_dir: Path | None = None
    options: PackageOptions = field(default_factory=PackageOptions)


@dataclass(frozen=True)
class PublishOutcome:
    reference: str
    model: StoredModel
    violations: list[str]
    digest: str | None  # the pushed manifest's digest; None when nothing was pushed

    @property
    def pushed(self) -> bool:
        return self.digest is not None


def publish(
    source: PublishSource,
    policy: CatalogPolicy,
    dry_run: bool = False,
    insecure: bool = False,
    transfers: Transfers = SILENT,
) -> PublishOutcome:
    """Build and lint the artifact; push it unless this is a dry run or the policy refuses it."""
    check_family(source.family)
    with tempfile.TemporaryDirectory(prefix="compose-models-publish-") as staging:
        store = ModelStore(Path(staging))
        staged = _package(store, source)
        fields = name_fields(staged.config, source.family, policy.org_prefix)
        reference = normalize_reference(policy.name_pattern.render(fields))
        store.tag(staged.id, reference)
        store.remove(_STAGING_TAG)
        model = store.get(reference)
        violations = lint_model(model, reference, policy)
        digest = None if violations or dry_run else push_model(store, reference, insecure, transfers)
    return PublishOutcome(reference, model, violations, digest)


def _package(store: ModelStore, source: PublishSource) -> StoredModel:
    options = source.options
    if source.gguf is not None and source.safetensors_dir is None:
        return package_gguf(
            store, source.gguf, _STAGING_TAG, options.context_size, options.licenses, options.chat_template
        )
    if source.safetensors_dir is not None and source.gguf is None:
        return package_safetensors_dir(store, source.safetensors_dir, _STAGING_TAG, options)
    raise UserError("publish needs exactly one of --gguf FILE or --safetensors-dir DIR")
