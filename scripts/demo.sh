#!/usr/bin/env bash
# The main job: package the embedded SmolLM2 model into the local store, then run the hello stack,
# whose container asks the host runner a question through $LLM_URL and prints the answer.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
if ! compose-models inspect local/smollm2:135m-q4_1 >/dev/null 2>&1; then
    compose-models package --gguf "$(python -c 'from compose_models.default_model import default_gguf_path; print(default_gguf_path())')" \
        local/smollm2:135m-q4_1
fi
compose-models up -f examples/compose/hello/compose.yaml
compose-models down -f examples/compose/hello/compose.yaml
