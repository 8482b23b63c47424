"""The store's errors: what went wrong, in a message that names the reference, file or registry and
what was expected. They carry no exit code and no HTTP status: the CLI maps them to exit codes
(``cli/exit_codes.py``), the runner to its answers (``runner/errors.py``).

Each is a ``UserError``: the user can fix it (pull the model, free disk, fix a reference or a registry's
credentials), so every caller that reports a ``UserError`` reports these too.
"""

from compose_models.errors import UserError


class StoreError(UserError):
    """Something the store was asked to do that it cannot do."""


class ModelNotFound(StoreError):
    """The model is not in the local store."""

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"model {reference!r} is not in the local store: run `compose-models pull {reference}`, "
            f"or `compose-models package --gguf FILE {reference}` to add a local GGUF file"
        )
        self.reference = reference


class ModelConflict(StoreError):
    """The request is valid but clashes with the store's state (HTTP 409 in DMR)."""


class InvalidReference(StoreError):
    """A model reference, tag or digest that is not one."""


class InvalidArtifact(StoreError):
    """A model file or artifact that cannot be read, packaged, created or recorded."""


class DigestMismatch(StoreError):
    """The bytes sent are not the blob their digest names."""


class CorruptIndex(StoreError):
    """``models.json`` cannot be read as an index; the message names it, and its backup when that is good."""


class StoreFull(StoreError):
    """The store's disk has no room for what a pull brings (HTTP 507 from the runner)."""


class RegistryNotFound(StoreError):
    """The registry has no such repository or tag."""


class RegistryError(StoreError):
    """A registry (OCI or Hugging Face) refused, could not be reached, or sent what the store does not accept;
    or its credentials cannot be read."""
