"""``catalog list``: every tag under the catalog's organisation, with what its config records.

Repositories come from the registry's ``/v2/_catalog`` and tags from ``/v2/<name>/tags/list``
(both paginated with ``Link`` headers), then each tag's manifest and config are read.
"""

import re
from dataclasses import dataclass
from typing import Any

from compose_models.catalog.naming import OrgPrefix
from compose_models.errors import UserError
from compose_models.store import StoredModel
from compose_models.store.pull import fetch_remote_model
from compose_models.store.registry_client import RegistryClient

_PAGE_SIZE = 1000
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class CatalogClient(RegistryClient):
    """The registry's listing APIs, beside the manifest and blob calls RegistryClient has."""

    def repositories(self) -> list[str]:
        return self._all_pages(f"/v2/_catalog?n={_PAGE_SIZE}", "", "registry:catalog:*", "repositories")

    def tags(self, repository: str) -> list[str]:
        path = f"/v2/{repository}/tags/list?n={_PAGE_SIZE}"
        return self._all_pages(path, repository, f"repository:{repository}:pull", "tags")

    def _all_pages(self, path: str, repository: str, scope: str, key: str) -> list[str]:
        items: list[str] = []
        next_path: str | None = path
        while next_path:
            with self._request("GET", next_path, repository, "pull", scope_override=scope) as response:
                self._raise_for_status(response, f"the list of {key}")
                response.read()
                items += response.json().get(key) or []
                link = _NEXT_LINK.search(response.headers.get("link", ""))
            next_path = link.group(1) if link else None
        return items


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
    with CatalogClient(org.registry, insecure) as client:
        repositories = sorted(repository for repository in client.repositories() if org.holds(repository))
        references = [f"{org.registry}/{name}:{tag}" for name in repositories for tag in sorted(client.tags(name))]
    return [_read_entry(reference, insecure) for reference in references]


def _read_entry(reference: str, insecure: bool) -> CatalogEntry:
    try:
        return CatalogEntry(reference, fetch_remote_model(reference, insecure))
    except UserError as error:
        return CatalogEntry(reference, None, str(error))
