"""``catalog lint``: what a model artifact breaks of the policy, one violation per line.

Checked: the name follows the pattern and agrees with the model's metadata, a license layer is
present (when required), the config records architecture, parameters, quantisation and context
size, the quantisation is allowed and the artifact is not over the maximum size.
"""

from compose_models.catalog.naming import name_fields
from compose_models.catalog.policy import CatalogPolicy
from compose_models.errors import UserError
from compose_models.store import ModelStore, StoredModel, media_types, normalize_reference
from compose_models.store.artifact import Layer
from compose_models.store.pull import fetch_remote_model
from compose_models.units import gguf_size

RECORDED_FIELDS = ("architecture", "parameters", "quantization", "context_size")
_NAME_CHECKS = (("params", "parameters"), ("quant", "quantization"), ("context", "context size"))
_LICENSE_WORDS = ("license", "licence", "copying")
NO_LICENSE = "license: the artifact has no license layer (the policy requires one: package with --license FILE)"


def _find_model(reference: str, remote: bool = False, insecure: bool = False) -> StoredModel:
    """The artifact to lint: the local store's, else (or with ``remote``) the registry's."""
    local = None if remote else ModelStore.default().find(reference)
    return local or fetch_remote_model(reference, insecure)


def lint_reference(reference: str, policy: CatalogPolicy, remote: bool = False, insecure: bool = False) -> list[str]:
    try:
        model = _find_model(reference, remote, insecure)
    except UserError as error:
        return [f"artifact: cannot read it: {error}"]
    return lint_model(model, reference, policy)


def lint_model(model: StoredModel, reference: str, policy: CatalogPolicy) -> list[str]:
    """Every way ``model``, published as ``reference``, breaks ``policy`` (empty when it conforms)."""
    violations = _name_violations(model, reference, policy)
    if policy.require_license and not any(_is_license(layer) for layer in model.layers):
        violations.append(NO_LICENSE)
    for field in RECORDED_FIELDS:
        if not model.config.get(field):
            violations.append(f"config: {field} is not recorded in the model's config")
    quantization = model.config.get("quantization", "")
    if quantization and not policy.allows_quantization(quantization):
        allowed = ", ".join(policy.allowed_quantizations)
        violations.append(f"quantization: {quantization} is not allowed by the policy (allowed: {allowed})")
    if policy.max_size is not None and model.size > policy.max_size:
        violations.append(
            f"size: the artifact is {gguf_size(model.size)}, over the policy's maximum of {gguf_size(policy.max_size)}"
        )
    return violations


def _name_violations(model: StoredModel, reference: str, policy: CatalogPolicy) -> list[str]:
    try:
        name = normalize_reference(reference)
    except UserError as error:
        return [f"name: {error}"]
    fields = policy.name_pattern.parse(name, policy.org_prefix)
    if fields is None:
        return [f"name: {name} does not follow the naming pattern {policy.naming} (with <org> = {policy.org_prefix})"]
    expected = name_fields(model.config, fields["family"], policy.org_prefix)
    return [
        f"name: the tag says {what} {fields[token]} but the model's metadata gives {expected[token]}"
        for token, what in _NAME_CHECKS
        if token in fields and expected[token] and fields[token].lower() != str(expected[token]).lower()
    ]


def _is_license(layer: Layer) -> bool:
    if layer.media_type == media_types.LICENSE:
        return True
    path = layer.annotations.get(media_types.ANNOTATION_FILEPATH, "").lower()
    return layer.media_type == media_types.CNCF_DOC and any(word in path for word in _LICENSE_WORDS)
