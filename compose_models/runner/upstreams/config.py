"""The upstreams file: remote OpenAI-compatible endpoints whose models the runner serves as its own.

``serve --upstreams FILE`` (default ``$COMPOSE_MODELS_HOME/upstreams.yaml``, optional) reads it once at
start-up. A malformed file is refused with its path, the key (``upstreams[1].url``) and what was expected.
"""

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from compose_models.errors import UserError
from compose_models.home import home_dir
from compose_models.store.reference import display_name

UPSTREAMS_FILE_VARIABLE = "COMPOSE_MODELS_UPSTREAMS_FILE"
ALL_MODELS = "*"
# Where each kind serves OpenAI's routes (``/v1/chat/completions`` ...) below its URL.
_OPENAI_ROOT = {"openai": "", "vllm": "", "ollama": "", "compose-models": "/engines"}
# What the background health check asks of each kind, below its root: a runner's keyless status, vLLM's
# /health, else the model list (every OpenAI-compatible server has one).
_HEALTH_PATH = {"openai": "/v1/models", "vllm": "/health", "ollama": "/v1/models", "compose-models": "/engines/status"}
HEALTH_INTERVAL = 10.0  # seconds between two health checks of an upstream
HEALTH_FAILURES = 3  # failed health checks in a row that eject an upstream
LISTING_TIMEOUT = 15.0  # seconds for a whole model-list fetch or health check, however slowly it trickles

_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")

Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]


class Timeouts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connect: float = Field(10.0, gt=0, description="seconds to open a connection")
    read: float = Field(600.0, gt=0, description="seconds to wait for the next bytes of an answer")
    listing: float = Field(LISTING_TIMEOUT, gt=0, description="seconds for a whole model list or health check")


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = None
    interval: float = Field(HEALTH_INTERVAL, gt=0, description="seconds between two checks")
    failures: int = Field(HEALTH_FAILURES, ge=1, description="failed checks in a row that eject the upstream")

    @field_validator("path")
    @classmethod
    def _path_from_root(cls, path: str | None) -> str | None:
        if path is not None and not re.fullmatch(r"/[A-Za-z0-9._~/-]*", path):
            raise ValueError("a path below the upstream's root, such as /health")
        return path


class Upstream(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    url: str
    kind: Literal["openai", "compose-models", "ollama", "vllm"] = "openai"
    api_key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    models: list[Name] | Literal["*"]
    prefix: Name | None = None
    # Also a replica of the runner's own model of a name it serves: taken when the local engine's slots are all busy.
    spill_over: bool = False
    timeouts: Timeouts = Timeouts()
    health: Health = Health()

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1].strip("/")) == 0:
            raise ValueError("an http:// or https:// URL, such as http://gpu-box:8000")
        return url.rstrip("/")

    @property
    def shown_url(self) -> str:
        """``url`` as shown to anyone (listings, status, logs, errors): without a user and password in it."""
        return strip_credentials(self.url)

    def redact(self, text: str) -> str:
        """``text`` (an error's message, which may quote the URL) without the URL's password."""
        password = urlsplit(self.url).password
        text = text.replace(self.url, self.shown_url)
        return text.replace(password, "***") if password else text

    @property
    def root(self) -> str:
        """``url`` without the OpenAI base it may end in (``/v1``, or a runner's ``/engines/v1``)."""
        root = self.url.removesuffix("/v1")
        return root.removesuffix("/engines") if self.kind == "compose-models" else root

    @property
    def openai_base(self) -> str:
        """The URL that OpenAI's paths (``/v1/...``) follow, whether or not ``url`` ends in them."""
        return self.root + _OPENAI_ROOT[self.kind]

    @property
    def health_url(self) -> str:
        return self.root + (self.health.path or _HEALTH_PATH[self.kind])

    def auth_headers(self) -> dict[str, str]:
        """The upstream's own key, from its environment variable, when one is named and set."""
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        return {"authorization": f"Bearer {key}"} if key else {}

    def short_name(self, remote_name: str) -> str:
        """A model's name as the upstream's users write it: another runner lists ``docker.io/ai/x:latest``
        and takes ``x`` for it."""
        return display_name(remote_name) if self.kind == "compose-models" else remote_name

    def local_name(self, remote_name: str) -> str:
        return f"{self.prefix}/{remote_name}" if self.prefix else remote_name

    def remote_name(self, local_name: str) -> str | None:
        """The upstream's own name for ``local_name``, when it is under this upstream's prefix."""
        if not self.prefix:
            return local_name
        head, _, rest = local_name.partition("/")
        return rest if head == self.prefix and rest else None


def strip_credentials(url: str) -> str:
    """``url`` without the ``user:password@`` it may hold (up to the authority's last ``@``)."""
    return _CREDENTIALS.sub(r"\1", url)


class UpstreamsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upstreams: list[Upstream] = []

    @field_validator("upstreams")
    @classmethod
    def _unique_names(cls, upstreams: list[Upstream]) -> list[Upstream]:
        names = [upstream.name for upstream in upstreams]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"upstream names to be unique; {name!r} is used twice")
        return upstreams


def default_upstreams_path() -> Path:
    return home_dir() / "upstreams.yaml"


def configured_upstreams_path() -> tuple[Path, bool]:
    """The upstreams file, and whether it was asked for (then it must exist) rather than the default."""
    configured = os.environ.get(UPSTREAMS_FILE_VARIABLE)
    return (Path(configured).expanduser(), True) if configured else (default_upstreams_path(), False)


def load_upstreams(path: Path, required: bool) -> list[Upstream]:
    """The upstreams ``path`` declares; none when it is the default and absent. UserError when malformed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        if required:
            raise UserError(f"{path}: no such upstreams file") from None
        return []
    except OSError as error:
        raise UserError(f"{path}: cannot read the upstreams file: {error.strerror}") from None
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from None
    if data is None:
        return []
    try:
        return UpstreamsFile.model_validate(data).upstreams
    except ValidationError as error:
        first = error.errors()[0]
        raise UserError(f"{path}: {_key_path(first['loc'])}: {_expected(first)}") from None


def _key_path(location: tuple[Any, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("list[constrained-str]", "literal['*']", "function-after[_http_url(), str]"):
            continue  # pydantic's name of a union's branch, not a key of the file
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _expected(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "this key is required"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "model_type":
        return "expected a mapping of keys"
    if "models" in error["loc"]:
        return 'expected a list of model names, or "*" for every model the upstream lists'
    message = error["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    return message if message.startswith("expected") else f"expected {message[0].lower()}{message[1:]}"
