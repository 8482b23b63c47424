#!/usr/bin/env bash
# Runs a real coding agent, as shipped on npm, against a fresh runner serving the embedded SmolLM2 model,
# and fails when it gets no answer. Too slow for the default test suite (the agent's prompt is thousands of
# tokens); its recorded requests are replayed there instead (tests/fixtures/agents/).
#   scripts/check-agents.sh claude
# AGENTS_CACHE (default ~/.cache/compose-models-agents) keeps the installed agents between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CACHE=${AGENTS_CACHE:-$HOME/.cache/compose-models-agents}
MODEL=local/smollm2:135m-q4_1
# The newest Claude Code 2.1.x that still runs on node 20 (later ones need node 22).
CLAUDE_VERSION=${CLAUDE_VERSION:-2.1.197}

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

claude() {
  local bin=$CACHE/claude-$CLAUDE_VERSION/node_modules/.bin/claude
  [ -x "$bin" ] || npm install --silent --prefix "$CACHE/claude-$CLAUDE_VERSION" "@anthropic-ai/claude-code@$CLAUDE_VERSION"
  start_runner 8192  # Claude Code's prompt is about 3,050 tokens with SmolLM2's template
  mkdir -p "$WORK/claude-home"
  local answer
  # The output cap keeps a 135M model from writing until the context is full; with a cap it reaches, Claude
  # Code asks it to resume, then fails with "exceeded the N output token maximum".
  answer=$(HOME=$WORK/claude-home CLAUDE_CONFIG_DIR=$WORK/claude-home/.claude \
    ANTHROPIC_BASE_URL=http://127.0.0.1:$COMPOSE_MODELS_PORT/anthropic ANTHROPIC_API_KEY=unused \
    ANTHROPIC_MODEL=$MODEL ANTHROPIC_SMALL_FAST_MODEL=$MODEL CLAUDE_CODE_MAX_OUTPUT_TOKENS=${MAX_OUTPUT_TOKENS:-1024} \
    DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 DISABLE_ERROR_REPORTING=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    timeout "${AGENT_TIMEOUT:-900}" "$bin" -p "Say hello" </dev/null)
  echo "claude answered: $answer"
  [ -n "${answer//[[:space:]]/}" ]
}

case "${1:-}" in
  claude) claude ;;
  *) echo "usage: $0 claude" >&2; exit 2 ;;
esac
