#!/usr/bin/env bash
# Runs a real coding agent, as shipped on npm, through `compose-models launch` against a fresh runner serving
# the embedded SmolLM2 model, and fails when it gets no answer. Too slow for the default test suite (the
# agent's prompt is thousands of tokens); its recorded requests are replayed there instead
# (tests/fixtures/agents/).
#   scripts/check-agents.sh codex|claude
# AGENTS_CACHE (default ~/.cache/compose-models-agents) keeps the installed agents between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CACHE=${AGENTS_CACHE:-$HOME/.cache/compose-models-agents}
MODEL=local/smollm2:135m-q4_1
CODEX_VERSION=${CODEX_VERSION:-0.171.0}
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

launch() {  # $1: the folder holding the agent's binary, $2: the agent, then its arguments
  local bin_dir=$1 agent=$2
  shift 2
  # A HOME of its own, so the agent's own state files (~/.claude.json, ~/.codex) are not the user's.
  mkdir -p "$WORK/agent-home" "$WORK/project"
  (cd "$WORK/project" && HOME=$WORK/agent-home PATH="$bin_dir:$PATH" \
    timeout "${AGENT_TIMEOUT:-900}" "$OLDPWD/$PYTHON" -m compose_models launch --model "$MODEL" "$agent" -- "$@" </dev/null)
}

codex() {
  local prefix=$CACHE/codex-$CODEX_VERSION
  [ -x "$prefix/node_modules/.bin/codex" ] || npm install --silent --prefix "$prefix" "@openai/codex@$CODEX_VERSION"
  start_runner 8192  # Codex's first request is about 4,550 tokens with SmolLM2's template
  local started=$SECONDS
  launch "$prefix/node_modules/.bin" codex exec --skip-git-repo-check -o "$WORK/answer.txt" "Say hello" \
    >"$WORK/codex.log" 2>&1 || { tail -20 "$WORK/codex.log" >&2; return 1; }
  local answer
  answer=$(cat "$WORK/answer.txt")
  echo "codex $CODEX_VERSION answered through launch in $((SECONDS - started))s: $answer"
  [ -n "${answer//[[:space:]]/}" ]
}

claude() {
  local prefix=$CACHE/claude-$CLAUDE_VERSION
  [ -x "$prefix/node_modules/.bin/claude" ] || npm install --silent --prefix "$prefix" "@anthropic-ai/claude-code@$CLAUDE_VERSION"
  start_runner 8192  # Claude Code's prompt is about 3,050 tokens with SmolLM2's template
  local started=$SECONDS answer
  launch "$prefix/node_modules/.bin" claude -p "Say hello" >"$WORK/answer.txt" 2>"$WORK/claude.log" \
    || { cat "$WORK/answer.txt"; tail -20 "$WORK/claude.log" >&2; return 1; }
  answer=$(cat "$WORK/answer.txt")
  echo "claude $CLAUDE_VERSION answered through launch in $((SECONDS - started))s: $answer"
  [ -n "${answer//[[:space:]]/}" ]
}

case "${1:-}" in
  codex) codex ;;
  claude) claude ;;
  *) echo "usage: $0 codex|claude" >&2; exit 2 ;;
esac
