"""Request bodies of Docker Model Runner's management routes (validated, and described in /openapi.json)."""

from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from compose_models.runner.api.openai.schema import NonEmpty, Open
from compose_models.runner.configuration.runtime_flags import INT32_MAX
from compose_models.units import parse_duration

# Compose's own rule for project names: lowercase letters, digits, dashes and underscores.
ProjectName = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class Speculative(Open):
    """Docker Model Runner's speculative decoding settings: a draft model from the store, how many tokens it
    drafts at most, and the least probability a drafted token must have."""

    draft_model: NonEmpty | None = None
    num_tokens: Annotated[int, Field(ge=0, le=INT32_MAX)] | None = None
    min_acceptance_rate: Annotated[float, Field(ge=0, le=1)] | None = None

    @property
    def flags(self) -> list[str]:
        """The llama-server runtime flags of the numbers (Docker Model Runner passes the same ones)."""
        flags = ["--spec-draft-n-max", str(self.num_tokens)] if self.num_tokens else []
        return flags + (["--spec-draft-p-min", f"{self.min_acceptance_rate:g}"] if self.min_acceptance_rate else [])


class ConfigureRequest(Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    model: NonEmpty
    context_size: Annotated[int, Field(ge=-1, le=INT32_MAX)] | None = Field(
        None, alias="context-size", description="-1 or 0 unset it; at most the model's trained context"
    )
    runtime_flags: list[str] | None = Field(None, alias="runtime-flags")
    raw_runtime_flags: str | None = Field(None, alias="raw-runtime-flags")
    keep_alive: str | float | None = Field(None, description="A Go duration (5m, 1h30m), seconds, or -1 for ever")
    mode: str | None = None
    project: ProjectName | None = Field(None, description="The Compose project whose file set these values")
    reset: bool = Field(False, description="Forget the model's configuration: it runs with the defaults")
    speculative: Speculative | None = None

    @field_validator("keep_alive")
    @classmethod
    def _duration(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def flags(self) -> list[str]:
        """The runtime-flags array wins over the raw string, as in Docker Model Runner."""
        if self.runtime_flags is not None:
            flags = list(self.runtime_flags)
        else:
            flags = self.raw_runtime_flags.split() if self.raw_runtime_flags else []
        return flags + (self.speculative.flags if self.speculative else [])

    @property
    def draft_model(self) -> str | None:
        return self.speculative.draft_model if self.speculative else None

    @property
    def keep_alive_seconds(self) -> float | None:
        return None if self.keep_alive is None else parse_duration(self.keep_alive)


class LoadRequest(Open):
    model: NonEmpty
    project: ProjectName | None = Field(None, description="Keep the model loaded while this Compose project is up")


class ReleaseRequest(Open):
    project: ProjectName


class UnloadRequest(Open):
    all: bool = False
    backend: str | None = None
    models: list[str] = []


class CreateRequest(Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    source: NonEmpty = Field(alias="from")
    bearer_token: str | None = Field(None, alias="bearer-token")
