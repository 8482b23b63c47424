"""Model references, normalised exactly as Docker Model Runner does (reference §3.10).

``normalize_reference("smollm2")`` is ``"docker.io/ai/smollm2:latest"``: the storage form of a tag.
Model IDs (``sha256:<64 hex>``, 64 hex, or a 12-hex short ID) are recognised but not resolved here;
the store resolves them against what it holds.
"""

import re
from dataclasses import dataclass

from compose_models.store.errors import InvalidReference

DEFAULT_REGISTRY = "docker.io"
DEFAULT_NAMESPACE = "ai"
DEFAULT_TAG = "latest"
HUGGING_FACE_REGISTRY = "huggingface.co"

_HEX = re.compile(r"[0-9a-f]+")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]+)?")


@dataclass(frozen=True)
class ModelReference:
    """A parsed, normalised reference: ``registry/repository:tag`` or ``registry/repository@digest``."""

    registry: str
    repository: str
    tag: str | None = DEFAULT_TAG
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag}"

    @property
    def is_hugging_face(self) -> bool:
        return self.registry == HUGGING_FACE_REGISTRY


def looks_like_id(text: str) -> bool:
    """A model ID in any accepted spelling: 12 or 64 lower-case hex characters, or ``sha256:<64 hex>``."""
    return looks_like_digest(text) or (len(text) in (12, 64) and _HEX.fullmatch(text) is not None)


def looks_like_digest(text: str) -> bool:
    return _DIGEST.fullmatch(text) is not None


def parse_reference(reference: str) -> ModelReference:
    """Parse and normalise a tag or digest reference. Raises InvalidReference on a malformed one or an ID."""
    text = reference.strip()
    if not text:
        raise InvalidReference("empty model reference: expected a name such as ai/smollm2 or ai/smollm2:360M")
    if looks_like_id(text):
        raise InvalidReference(f"{reference!r} is a model ID, not a name: expected a reference such as ai/smollm2:latest")
    if text.startswith("hf.co/"):
        text = HUGGING_FACE_REGISTRY + text[len("hf.co") :]

    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not looks_like_digest(digest):
            raise InvalidReference(f"invalid digest in model reference {reference!r}: expected sha256:<64 hex characters>")

    tag = DEFAULT_TAG
    last_colon, last_slash = text.rfind(":"), text.rfind("/")
    if last_colon > last_slash:
        text, tag = text[:last_colon], text[last_colon + 1 :] or DEFAULT_TAG

    first_slash = text.find("/")
    has_dotted_registry = first_slash > 0 and "." in text[:first_slash]
    if not has_dotted_registry and "/" not in text:
        text = f"{DEFAULT_NAMESPACE}/{text}"
    name = text.lower()

    registry, repository = _split_registry(name)
    _validate(reference, registry, repository, tag)
    return ModelReference(registry, repository, None if digest else tag, digest)


def normalize_reference(reference: str) -> str:
    """The storage form of a reference (``docker.io/ai/smollm2:latest``); an ID is returned unchanged."""
    stripped = reference.strip()
    if looks_like_id(stripped):
        return stripped
    return str(parse_reference(stripped))


def display_name(tag: str) -> str:
    """How ``docker model ls`` shows a tag: without the default registry, ``ai/`` and ``:latest``."""
    for registry in ("index.docker.io/", "docker.io/"):
        if tag.startswith(registry):
            tag = tag[len(registry) :]
            break
    tag = tag.removeprefix(f"{DEFAULT_NAMESPACE}/")
    return tag.removesuffix(f":{DEFAULT_TAG}")


def listed_name(tag: str) -> str:
    """The one name every listing (OpenAI, Ollama, DMR) gives a tag: Docker's normalised reference
    without the default registry, e.g. ``ai/smollm2:latest``; requests take this and the full form."""
    for registry in ("index.docker.io/", "docker.io/"):
        if tag.startswith(registry):
            return tag[len(registry) :]
    return tag


def _split_registry(name: str) -> tuple[str, str]:
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = f"{DEFAULT_NAMESPACE}/{repository}"
    if repository.startswith("library/") and registry == DEFAULT_REGISTRY:
        repository = f"{DEFAULT_NAMESPACE}/{repository[len('library/'):]}"
    return registry, repository


def _validate(reference: str, registry: str, repository: str, tag: str) -> None:
    if not _DOMAIN.fullmatch(registry):
        raise InvalidReference(f"invalid registry {registry!r} in model reference {reference!r}")
    for component in repository.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            raise InvalidReference(
                f"invalid model reference {reference!r}: path component {component!r} must be lower-case "
                "letters and digits separated by '.', '_' or '-'"
            )
    if not _TAG.fullmatch(tag):
        raise InvalidReference(
            f"invalid tag {tag!r} in model reference {reference!r}: expected letters, digits, '_', '.' or '-'"
        )
