#!/usr/bin/env bash
# Runs a real coding agent, as shipped on npm, against a fresh runner serving the embedded SmolLM2 model,
# and fails when it gets no answer. Too slow for the default test suite (the agent's prompt is thousands of
# tokens); its recorded requests are replayed there instead (tests/fixtures/agents/).
#   scripts/check-agents.sh codex
# AGENTS_CACHE (default ~/.cache/compose-models-agents) keeps the installed agents between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CACHE=${AGENTS_CACHE:-$HOME/.cache/compose-models-agents}
MODEL=local/smollm2:135m-q4_1
CODEX_VERSION=${CODEX_VERSION:-0.171.0}

WORK=$(mktemp -d)
export COMPOSE_MODELS_HOME=$WORK/home
export COMPOSE_MODELS_PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
stop_runner() { "$PYTHON" -m compose_models stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap stop_runner EXIT

start_runner() {  # $1: context size
  local gguf
  gguf=$("$PYTHON" -c 'from compose_models.default_model import default_gguf_path; print(default_gguf_path())')
  "$PYTHON" -m compose_models package --gguf "$gguf" "$MODEL" >/dev/null
  "$PYTHON" -m compose_models serve --detach >/dev/null
  "$PYTHON" -m compose_models configure --context-size "$1" "$MODEL" >/dev/null
}

codex() {
  local bin=$CACHE/codex-$CODEX_VERSION/node_modules/.bin/codex
  [ -x "$bin" ] || npm install --silent --prefix "$CACHE/codex-$CODEX_VERSION" "@openai/codex@$CODEX_VERSION"
  start_runner 8192  # Codex's first request is about 4,550 tokens with SmolLM2's template
  # Codex's own config in a temporary CODEX_HOME: the runner as a Responses provider, no real key.
  mkdir -p "$WORK/codex-home" "$WORK/project"
  cat >"$WORK/codex-home/config.toml" <<TOML
model = "$MODEL"
model_provider = "compose-models"

[model_providers.compose-models]
name = "compose-models"
base_url = "http://127.0.0.1:$COMPOSE_MODELS_PORT/engines/v1"
wire_api = "responses"
env_key = "COMPOSE_MODELS_CHECK_KEY"
TOML
  local started=$SECONDS
  (cd "$WORK/project" && CODEX_HOME=$WORK/codex-home COMPOSE_MODELS_CHECK_KEY=unused \
    timeout "${AGENT_TIMEOUT:-900}" "$bin" exec --skip-git-repo-check -o "$WORK/answer.txt" "Say hello" \
    </dev/null >"$WORK/codex.log" 2>&1) || { tail -20 "$WORK/codex.log" >&2; return 1; }
  local answer
  answer=$(cat "$WORK/answer.txt")
  echo "codex $CODEX_VERSION answered in $((SECONDS - started))s: $answer"
  [ -n "${answer//[[:space:]]/}" ]
}

case "${1:-}" in
  codex) codex ;;
  *) echo "usage: $0 codex" >&2; exit 2 ;;
esac
