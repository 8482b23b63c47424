"""``catalog list``: every tag under the catalog's organisation, with what its config records.

Repositories come from the registry's ``/v2/_catalog`` and tags from ``/v2/<name>/tags/list``
(both paginated with ``Link`` headers), then each tag's manifest and config are read.
"""

from dataclasses import dataclass
from typing import Any

from compose_models.catalog.naming import OrgPrefix
from compose_models.errors import UserError
from compose_models.store import StoredModel
from compose_models.store.pull import fetch_remote_model
from compose_models.store.registry_client import RegistryClient


@dataclass(frozen=True)
class CatalogEntry:
    reference: str
    model: StoredModel | None
    problem: str | None = None  # why the tag could not be read as a model artifact

    def to_json(self) -> dict[str, Any]:
        config = self.model.config if self.model else {}
        return {
            "reference": self.reference,
            "id": self.model.id if self.model else None,
            "format": config.get("format"),
            "architecture": config.get("architecture"),
            "parameters": config.get("parameters"),
            "quantization": config.get("quantization"),
            "context_size": config.get("context_size"),
            "size": config.get("size"),
            "error": self.problem,
        }


def list_catalog(org: OrgPrefix, insecure: bool = False) -> list[CatalogEntry]:
    with RegistryClient(org.registry, insecure) as client:
        repositories = sorted(repository for repository in client.repositories() if org.holds(repository))
        references = [f"{org.registry}/{name}:{tag}" for name in repositories for tag in sorted(client.tags(name))]
    return [_read_entry(reference, insecure) for reference in references]


def _read_entry(reference: str, insecure: bool) -> CatalogEntry:
    try:
        return CatalogEntry(reference, fetch_remote_model(reference, insecure))
    except UserError as error:
        return CatalogEntry(reference, None, str(error))
