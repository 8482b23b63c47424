"""The agents ``compose-models launch`` starts already pointed at the runner: for each, the configuration it
reads (environment, a config file in a directory of its own, arguments) from the runner's URL, a model,
a key and a context size.

Nothing here writes over a user's file: each config file is written into a fresh directory that the
agent is pointed at (``CODEX_HOME``, ``OPENCODE_CONFIG``, aider's ``--model-metadata-file``).
"""

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

# What the agent is given when the runner has no keys: agents refuse to start without some key.
NO_KEY = "compose-models"
OPEN_WEBUI_IMAGE = "ghcr.io/open-webui/open-webui:main"
OPEN_WEBUI_CONTAINER = "compose-models-open-webui"
OPEN_WEBUI_PORT = 3000
CLAUDE_CONTEXT = 8192  # what Claude Code is given when the model's context size is not known


@dataclass(frozen=True)
class Target:
    """Where the agent finds the runner and what it asks for."""

    host_url: str  # http://127.0.0.1:PORT, for agents on the host
    container_url: str  # the runner's root as a container reaches it (the reach probe's route)
    model: str
    key: str | None  # an inference key when the runner has keys on
    context_size: int | None
    host_gateway: bool = False  # the container route needs --add-host host.docker.internal:host-gateway
    ca_file: str | None = None  # the local CA that issued the certificate of an https host_url, which no system trusts


# Where each runtime takes a CA to trust from. Node adds NODE_EXTRA_CA_CERTS to its own roots; Codex's core
# is Rust, which reads CODEX_CA_CERTIFICATE; Python's ssl (httpx, requests) reads SSL_CERT_FILE or
# REQUESTS_CA_BUNDLE instead of its roots: an agent launched here talks to this runner only.
NODE_TRUST = ("NODE_EXTRA_CA_CERTS",)
CODEX_TRUST = ("CODEX_CA_CERTIFICATE", "NODE_EXTRA_CA_CERTS")
PYTHON_TRUST = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def _trusting(target: Target, variables: tuple[str, ...]) -> dict[str, str]:
    """The runtime's variables naming the runner's local CA, when the agent is to reach it over TLS."""
    return {name: target.ca_file for name in variables} if target.ca_file else {}


@dataclass
class Launch:
    """What starting the agent takes: files to write (named relative to the launch's own directory,
    ``{dir}`` in values stands for it), environment variables to add, and the command line."""

    argv: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Agent:
    name: str
    binary: str  # the command looked for on PATH (openwebui: docker)
    install: str  # the one line that installs it
    summary: str
    build: Callable[[Target, list[str]], Launch]


def _key(target: Target) -> str:
    return target.key or NO_KEY


def _codex(target: Target, arguments: list[str]) -> Launch:
    lines = [
        f"model = {json.dumps(target.model)}",
        'model_provider = "compose-models"',
        # Hosted tools run on OpenAI's servers, not on a local model's.
        'web_search = "disabled"',
    ]
    if target.context_size:
        lines.append(f"model_context_window = {target.context_size}")
    lines += [
        "",
        "[model_providers.compose-models]",
        'name = "compose-models"',
        f"base_url = {json.dumps(target.host_url + '/v1')}",
        'wire_api = "responses"',
        'env_key = "COMPOSE_MODELS_API_KEY"',
    ]
    return Launch(
        argv=["codex", *arguments],
        environment={"CODEX_HOME": "{dir}", "COMPOSE_MODELS_API_KEY": _key(target), **_trusting(target, CODEX_TRUST)},
        files={"config.toml": "\n".join(lines) + "\n"},
    )


def _claude(target: Target, arguments: list[str]) -> Launch:
    return Launch(
        argv=["claude", *arguments],
        environment={
            "ANTHROPIC_BASE_URL": f"{target.host_url}/anthropic",
            "ANTHROPIC_AUTH_TOKEN": _key(target),
            "ANTHROPIC_MODEL": target.model,
            "ANTHROPIC_SMALL_FAST_MODEL": target.model,
            # No telemetry, error reports or update checks to Anthropic's servers.
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            # A small model writes until its context is full; Claude Code answers a much smaller cap's stop by
            # asking it to resume, then gives up.
            "CLAUDE_CODE_MAX_OUTPUT_TOKENS": str((target.context_size or CLAUDE_CONTEXT) // 8),
            **_trusting(target, NODE_TRUST),
        },
    )


def _opencode(target: Target, arguments: list[str]) -> Launch:
    model: dict[str, object] = {"name": target.model}
    if target.context_size:
        model["limit"] = {"context": target.context_size, "output": max(target.context_size // 4, 256)}
    config = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "compose-models": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "compose-models",
                "options": {"baseURL": f"{target.host_url}/v1", "apiKey": _key(target)},
                "models": {target.model: model},
            }
        },
        "model": f"compose-models/{target.model}",
        # Fetching web pages goes to the internet, whatever model runs.
        "tools": {"webfetch": False},
    }
    return Launch(
        argv=["opencode", *arguments],
        environment={"OPENCODE_CONFIG": "{dir}/opencode.json", **_trusting(target, NODE_TRUST)},  # Bun reads Node's variable
        files={"opencode.json": json.dumps(config, indent=2) + "\n"},
    )


def _aider(target: Target, arguments: list[str]) -> Launch:
    name = f"openai/{target.model}"
    argv = ["aider", "--model", name, "--no-show-model-warnings", "--no-check-update", "--no-analytics"]
    files = {}
    if target.context_size:
        metadata = {name: {"max_input_tokens": target.context_size, "max_tokens": target.context_size,
                           "input_cost_per_token": 0, "output_cost_per_token": 0, "litellm_provider": "openai",
                           "mode": "chat"}}  # fmt: skip
        files["model-metadata.json"] = json.dumps(metadata, indent=2) + "\n"
        argv += ["--model-metadata-file", "{dir}/model-metadata.json"]
    return Launch(
        argv=[*argv, *arguments],
        environment={"OPENAI_API_BASE": f"{target.host_url}/v1", "OPENAI_API_KEY": _key(target), **_trusting(target, PYTHON_TRUST)},
        files=files,
    )


def _openwebui(target: Target, arguments: list[str]) -> Launch:
    environment = {
        "OLLAMA_BASE_URL": target.container_url,
        "OPENAI_API_BASE_URL": f"{target.container_url}/v1",
        "OPENAI_API_KEY": _key(target),
        "DEFAULT_MODELS": target.model,
        "WEBUI_AUTH": "False",  # one user on this machine
    }
    argv = ["docker", "run", "-d", "--name", OPEN_WEBUI_CONTAINER, "-p", f"127.0.0.1:{OPEN_WEBUI_PORT}:8080",
            "-v", "open-webui:/app/backend/data"]  # fmt: skip
    if target.host_gateway:
        argv += ["--add-host", "host.docker.internal:host-gateway"]
    for name, value in environment.items():
        argv += ["-e", f"{name}={value}"]
    return Launch(argv=[*argv, *arguments, OPEN_WEBUI_IMAGE])


AGENTS = {
    agent.name: agent
    for agent in (
        Agent("codex", "codex", "npm install -g @openai/codex", "OpenAI's Codex CLI, over the Responses API", _codex),
        Agent("claude", "claude", "npm install -g @anthropic-ai/claude-code", "Claude Code, over the Anthropic Messages API", _claude),
        Agent("opencode", "opencode", "npm install -g opencode-ai", "opencode, as an OpenAI-compatible provider", _opencode),
        Agent("aider", "aider", "python -m pip install aider-install && aider-install", "aider, over the OpenAI API", _aider),
        Agent("openwebui", "docker", f"docker pull {OPEN_WEBUI_IMAGE}", "Open WebUI in a container, with the runner as its Ollama and OpenAI connection", _openwebui),
    )
}  # fmt: skip


def printed(launch: Launch) -> str:
    """``launch --print``: a shell script that writes the files into a new directory, sets the
    environment and starts the agent, so what launch would do can be read, changed or run by hand."""
    lines = []
    if launch.files or any("{dir}" in value for value in [*launch.environment.values(), *launch.argv]):
        lines.append('LAUNCH_DIR="$(mktemp -d)"')
    for name, content in launch.files.items():
        lines += [f"cat > \"$LAUNCH_DIR\"/{name} <<'EOF'", content.rstrip("\n"), "EOF"]
    for name, value in launch.environment.items():
        lines.append(f"export {name}={_quoted(value)}")
    lines.append(" ".join(_quoted(part) for part in launch.argv))
    return "\n".join(lines) + "\n"


def _quoted(value: str) -> str:
    """Quoted for a shell, with ``{dir}`` as the script's directory variable."""
    return '"$LAUNCH_DIR"'.join(shlex.quote(piece) if piece else "" for piece in value.split("{dir}"))
