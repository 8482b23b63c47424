"""The catalog policy (``catalog.yaml``): where the catalog lives and what a published model must be.

::

    org: registry.example.com/myorg            # registry and namespace every model is pushed under
    naming: "<org>/<family>:<params>-<quant>[-<context>]"
    require_license: true                      # a license layer in every artifact
    allowed_quantizations: [Q4_K_M, Q8_0]      # empty or absent: any
    max_size: 8GiB                             # absent: no limit

Errors are one line naming the file, the line and the key.
"""

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator

from compose_models.catalog.naming import DEFAULT_PATTERN, NamePattern, OrgPrefix
from compose_models.compose.yaml_source import YamlDocument, read_compose_file
from compose_models.errors import UserError

POLICY_FILE = "catalog.yaml"


class CatalogPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    org: str
    naming: str = DEFAULT_PATTERN
    require_license: bool = True
    allowed_quantizations: list[str] = Field(default_factory=list)
    max_size: ByteSize | None = None

    @field_validator("org")
    @classmethod
    def _org_is_a_prefix(cls, value: str) -> str:
        _as_value_error(OrgPrefix.parse, value)
        return value

    @field_validator("naming")
    @classmethod
    def _naming_is_a_pattern(cls, value: str) -> str:
        _as_value_error(NamePattern, value)
        return value

    @property
    def org_prefix(self) -> OrgPrefix:
        return OrgPrefix.parse(self.org)

    @property
    def name_pattern(self) -> NamePattern:
        return NamePattern(self.naming)

    def allows_quantization(self, quantization: str) -> bool:
        allowed = {name.upper() for name in self.allowed_quantizations}
        return not allowed or quantization.upper() in allowed


def load_policy(path: Path | None = None) -> CatalogPolicy:
    """The policy in ``path``, or in ``catalog.yaml`` of the current directory."""
    path = path or Path(POLICY_FILE)
    if not path.is_file():
        raise UserError(f"{path}: no catalog policy here; write one (see docs/catalog.md) or pass --policy FILE")
    documents = read_compose_file(path)
    if len(documents) != 1:
        raise UserError(f"{path}: expected one YAML mapping of policy keys (org, naming, ...)")
    document = documents[0]
    try:
        return CatalogPolicy.model_validate(document.data)
    except ValidationError as error:
        raise UserError("; ".join(_describe(problem, document) for problem in error.errors())) from None


def _describe(problem: Any, document: YamlDocument) -> str:
    location = tuple(problem["loc"])
    line = document.lines.get(location[:1])
    where = f"{document.source}:{line}" if line else document.source
    key = ".".join(str(part) for part in location) or "(top level)"
    message = problem["msg"].removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        message = f"unknown key (expected one of {', '.join(CatalogPolicy.model_fields)})"
    return f"{where}: {key}: {message}"


def _as_value_error(check: Any, value: str) -> None:
    """Run a check that raises UserError, as pydantic wants it: a ValueError."""
    try:
        check(value)
    except UserError as error:
        raise ValueError(str(error)) from None
