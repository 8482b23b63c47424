#!/usr/bin/env bash
# The main job: package the embedded SmolLM2 model into the local store, then run the hello stack,
# whose container asks the host runner a question through $LLM_URL and prints the answer.
# Exits non-zero, saying so, when the model does not load (up loads it before the container starts) or the
# container gets no answer (its exit status).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
if ! compose-models inspect local/smollm2:135m-q4_1 >/dev/null 2>&1; then
    compose-models package --gguf "$(python -c 'from compose_models.default_model import default_gguf_path; print(default_gguf_path())')" \
        local/smollm2:135m-q4_1
fi
stack=examples/compose/hello/compose.yaml
status=0
# An attached `docker compose up` exits 0 whatever its containers do; --exit-code-from makes it
# return the hello container's exit status.
compose-models up -f "$stack" -- --exit-code-from hello || status=$?
if [ "$status" -ne 0 ]; then
    compose-models down -f "$stack" || true
    echo "demo: compose-models up failed (exit $status): the model did not load, or the container got no answer from the runner; see the error above and \`compose-models logs\`" >&2
    exit "$status"
fi
compose-models down -f "$stack"
