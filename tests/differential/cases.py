"""The differential table: small Compose projects, each exercising one loading rule.

A case with ``error`` set is invalid: both loaders must reject it and our one-line message must
contain every string in ``error`` (the file and the key, at least).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MODELS = """
models:
  llm: {model: ai/smollm2}
"""


def uses_llm(definition: str) -> dict[str, str]:
    """A compose.yaml whose one service uses model ``llm``, defined in flow style by ``definition``."""
    return {"compose.yaml": f"services:\n  app: {{image: x, models: [llm]}}\nmodels:\n  llm: {definition}\n"}


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str]
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "."
    error: tuple[str, ...] = ()


CASES = [
    # --- syntax of models and bindings -------------------------------------------------------------
    Case("short-syntax", {"compose.yaml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS}),
    Case("long-syntax-vars", {"compose.yaml": """
services:
  app:
    image: x
    models:
      llm: {endpoint_var: OPENAI_BASE_URL, model_var: OPENAI_MODEL}
      coder:
models:
  llm: {model: ai/smollm2, context_size: 8192, runtime_flags: ["--temp", "0.2", --verbose]}
  coder: {model: "hf.co/bartowski/Qwen2.5-Coder-1.5B-GGUF:Q4_K_M", name: coding}
"""}),
    Case("dash-and-dot-keys", {"compose.yaml": """
services:
  app: {image: x, models: [my-big-llm, llama3.2, Mixed_Case-1]}
models:
  my-big-llm: {model: ai/qwen3}
  llama3.2: {model: ai/llama3.2}
  Mixed_Case-1: {model: ai/gemma3}
"""}),
    Case("only-endpoint-var", {"compose.yaml": """
services:
  app: {image: x, models: {llm: {endpoint_var: AI_URL}}}
  worker: {image: x, models: {llm: {model_var: AI_MODEL, x-note: ignored}}}
""" + MODELS}),
    Case("unused-model-and-no-binding", {"compose.yaml": """
services:
  app: {image: x, models: [llm]}
  plain: {image: x}
models:
  llm: {model: ai/smollm2}
  unused: {model: ai/unused, context_size: 2048}
"""}),
    Case("x-extensions-everywhere", {"compose.yaml": """
x-common: &common
  image: busybox
services:
  app:
    <<: *common
    models: [llm]
models:
  x-not-a-model: {model: ai/extension}
  llm: {model: ai/smollm2, x-comment: hi}
"""}),
    Case("yaml12-scalars", uses_llm('{model: ai/yes, runtime_flags: [yes, no, on, off, "0x1F"]}')),
    Case("anchors-and-merge-keys", {"compose.yaml": """
x-model: &model_defaults
  context_size: 4096
  runtime_flags: [--flash-attn]
services:
  a: &svc {image: x, models: [one, two]}
  b: *svc
models:
  one:
    <<: *model_defaults
    model: ai/one
  two:
    <<: *model_defaults
    model: ai/two
    context_size: 1024
"""}),
    Case("multi-document-file", {"compose.yaml": """
services:
  app: {image: x, models: [llm]}
models:
  llm: {model: ai/first, runtime_flags: [--a]}
---
models:
  llm: {model: ai/second, runtime_flags: [--b]}
"""}),
    Case("version-is-ignored", {"compose.yaml": "version: '3.9'\nservices:\n  app: {image: x, models: [llm]}\n" + MODELS}),
    Case("context-size-zero-and-negative", {"compose.yaml": """
services:
  app: {image: x, models: [a, b]}
models:
  a: {model: ai/a, context_size: 0}
  b: {model: ai/b, context_size: -1}
"""}),
    # --- interpolation -----------------------------------------------------------------------------
    Case("interpolation-forms", {"compose.yaml": """
services:
  app: {image: x, models: {llm: {endpoint_var: "${PREFIX}_URL", model_var: "$PREFIX"}}}
models:
  llm:
    model: "${REPO}/${NAME:-smollm2}:${TAG-latest}"
    runtime_flags: ["${UNSET_FLAG:---ctx}", "${EMPTY:-dflt}", "${EMPTY-kept}", "$${NOT_A_VAR}", "cost$$5"]
"""}, env={"PREFIX": "AI", "REPO": "ai", "EMPTY": ""}),
    Case("interpolation-alternates", uses_llm('{model: ai/m, runtime_flags: ["${SET:+alt}", "${EMPTY:+alt}", "${EMPTY+alt}", "${UNSET+alt}", "x${UNSET:+alt}y"]}'), env={"SET": "1", "EMPTY": ""}),
    Case("interpolation-nested", uses_llm('{model: "${MODEL:-${FALLBACK:-ai/${NAME:-nested}}}", runtime_flags: ["${A:-${B}}", "${U:-{x}y}z", "${U-a}b}c}", "$1", "a$", "$-x", "${SET?}"]}'), env={"B": "bee", "SET": "s"}),
    Case("interpolation-required-set", uses_llm('{model: "${MODEL:?set MODEL}", runtime_flags: ["${FLAG?}"]}'), env={"MODEL": "ai/req", "FLAG": ""}),
    Case("interpolation-lowercase-and-underscore", uses_llm('{model: "${lower_case}/${_x}", runtime_flags: ["$lower_case-tail"]}'), env={"lower_case": "ai", "_x": "m"}),
    Case("compose-project-name-in-file", {"compose.yaml": """
name: "demo-${STAGE:-dev}"
services:
  app: {image: x, models: [llm]}
models:
  llm: {model: "ai/${COMPOSE_PROJECT_NAME}"}
"""}),
    Case("required-missing", uses_llm('{model: "${MODEL:?please set MODEL}"}'), error=("compose.yaml:4", "models.llm.model", "required variable MODEL is missing a value: please set MODEL")),
    Case("required-unset-no-message", {"compose.yaml": """
services:
  app: {image: "${IMAGE?}", models: [llm]}
""" + MODELS}, error=("compose.yaml", "services.app.image", "required variable IMAGE is missing a value")),
    Case("required-empty", uses_llm('{model: ai/m, runtime_flags: ["${FLAG:?}"]}'), env={"FLAG": ""}, error=("compose.yaml", "models.llm.runtime_flags", "required variable FLAG")),
    Case("invalid-interpolation", uses_llm('{model: "ai/${MODEL"}'), error=("compose.yaml:4", "models.llm.model", "invalid interpolation format")),
    Case("required-error-in-unused-default", uses_llm('{model: "${MODEL:-${OTHER:?needed}}"}'), env={"MODEL": "ai/m"}, error=("compose.yaml", "models.llm.model", "required variable OTHER")),
    # --- environment sources -----------------------------------------------------------------------
    Case("dotenv", {
        ".env": "# comment\nexport MODEL=ai/from-dotenv\nCTX_FLAG='--ctx-size'   \nQUOTED=\"a b\" # trailing\nINLINE=v #c\n",
        "compose.yaml": """
services:
  app: {image: x, models: [llm]}
models:
  llm: {model: "${MODEL}", runtime_flags: ["${CTX_FLAG}", "${QUOTED}", "${INLINE}"]}
"""}),
    Case("dotenv-interpolates-itself", {
        ".env": "BASE=ai\nMODEL=${BASE}/chained\nLITERAL='${BASE}'\nESC=\"\\$BASE\"\n",
        "compose.yaml": """
services:
  app: {image: x, models: [llm]}
models:
  llm: {model: "${MODEL}", runtime_flags: ["${LITERAL}", "${ESC}"]}
"""}),
    Case("shell-beats-dotenv", {".env": "MODEL=ai/dotenv\n", "compose.yaml": """
services:
  app: {image: x, models: [llm]}
models:
  llm: {model: "${MODEL}"}
"""}, env={"MODEL": "ai/shell"}),
    Case("env-file-flags-later-wins", {
        "a.env": "MODEL=ai/a\nFLAG=--a\n", "b.env": "MODEL=ai/b\n", ".env": "MODEL=ai/ignored\nFLAG=--ignored\n",
        "compose.yaml": """
services:
  app: {image: x, models: [llm]}
models:
  llm: {model: "${MODEL}", runtime_flags: ["${FLAG:-none}"]}
"""}, args=("--env-file", "a.env", "--env-file", "b.env")),
    Case("env-file-missing", {"compose.yaml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS},
         args=("--env-file", "missing.env"), error=("missing.env",)),
    Case("compose-file-variable", {
        "base.yaml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS,
        "more.yaml": "models:\n  llm: {context_size: 1234}\n",
    }, env={"COMPOSE_FILE": "base.yaml:more.yaml"}),
    Case("compose-file-separator", {
        "base.yaml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS,
        "more.yaml": "models:\n  llm: {runtime_flags: [--more]}\n",
    }, env={"COMPOSE_FILE": "base.yaml;more.yaml", "COMPOSE_PATH_SEPARATOR": ";"}),
    Case("compose-file-from-dotenv", {
        ".env": "COMPOSE_FILE=other.yaml\n",
        "other.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: ai/other}\n",
    }),
    Case("project-name-from-shell", {"compose.yaml": "name: ignored\nservices:\n  app: {image: x, models: [llm]}\n" + MODELS},
         env={"COMPOSE_PROJECT_NAME": "from-shell"}),
    Case("project-name-from-dotenv", {".env": "COMPOSE_PROJECT_NAME=from_dotenv\n",
                                      "compose.yaml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS}),
    Case("project-name-flag", {"compose.yaml": "name: ignored\nservices:\n  app: {image: x, models: [llm]}\n" + MODELS},
         args=("-p", "flag-name"), env={"COMPOSE_PROJECT_NAME": "env-name"}),
    Case("project-name-normalised", {"My.Project_Dir/compose.yaml": "services:\n  app: {image: x}\n"}, cwd="My.Project_Dir"),
    Case("project-name-in-file-normalised", {"compose.yaml": "name: My_Proj.V2\nservices:\n  app: {image: x}\n"}),
    Case("project-name-flag-invalid", {"compose.yaml": "services:\n  app: {image: x}\n"}, args=("-p", "Bad Name"),
         error=("invalid project name", "Bad Name")),
    Case("project-name-env-invalid", {"compose.yaml": "services:\n  app: {image: x}\n"},
         env={"COMPOSE_PROJECT_NAME": "UPPER"}, error=("invalid project name", "UPPER")),
    Case("project-directory", {
        "conf/compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: \"${MODEL}\"}\n",
        "work/.env": "MODEL=ai/from-project-dir\n",
    }, args=("-f", "conf/compose.yaml", "--project-directory", "work")),
    Case("dotenv-next-to-file", {
        "stack/compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: \"${MODEL}\"}\n",
        "stack/.env": "MODEL=ai/beside-the-file\n",
    }, args=("-f", "stack/compose.yaml")),
    Case("default-file-in-parent-with-override", {
        "docker-compose.yml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS,
        "docker-compose.override.yml": "models:\n  llm: {model: ai/overridden}\n",
        "src/sub/placeholder.txt": "",
    }, cwd="src/sub"),
    Case("dotenv-of-parent-project-found-by-search", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: \"${MODEL}\"}\n",
        ".env": "MODEL=ai/parent-dotenv\nCOMPOSE_PROJECT_NAME=from-parent-dotenv\n",
        "sub/dir/.keep": "",
    }, cwd="sub/dir"),
    Case("no-compose-file", {"README.md": "nothing here\n"}, error=("no configuration file provided",)),
    Case("missing-f-file", {"compose.yaml": "services:\n  app: {image: x}\n"}, args=("-f", "nope.yaml"),
         error=("nope.yaml", "no such file")),
    # --- merging several files ----------------------------------------------------------------------
    Case("merge-runtime-flags-append", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: ai/m, runtime_flags: [--a, --b]}\n",
        "extra.yaml": "models:\n  llm: {context_size: 512, runtime_flags: [--b, --c]}\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml")),
    Case("merge-service-models-list-and-map", {
        "compose.yaml": """
services:
  app: {image: x, models: {llm: {endpoint_var: FIRST_URL}}}
models:
  llm: {model: ai/m}
  second: {model: ai/s}
""",
        "extra.yaml": "services:\n  app:\n    models: [llm, second]\n",
        "third.yaml": "services:\n  app:\n    models:\n      second: {model_var: SECOND}\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml", "-f", "third.yaml")),
    Case("merge-reset-and-override", {
        "compose.yaml": """
services:
  app: {image: x, models: [llm, other]}
  keep: {image: x, models: {llm: {endpoint_var: A}}}
models:
  llm: {model: ai/m, context_size: 100, runtime_flags: [--a]}
  other: {model: ai/o, runtime_flags: [--o]}
""",
        "extra.yaml": """
services:
  app:
    models: !override [other]
  keep:
    models: !override
      llm: {model_var: B}
models:
  llm:
    runtime_flags: !reset []
    context_size: !reset null
  other:
    runtime_flags: !override [--replaced]
""",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml")),
    Case("merge-reset-service-models", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\n  b: {image: x, models: [llm]}\n" + MODELS,
        "extra.yaml": "services:\n  app:\n    models: !reset\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml")),
    Case("merge-new-model-in-override", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS,
        "extra.yaml": "services:\n  app:\n    models: [coder]\nmodels:\n  coder: {model: ai/coder}\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml")),
    Case("merge-model-without-model-key", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS,
        "extra.yaml": "models:\n  llm: {name: renamed, x-meta: 1}\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml")),
    # --- include -------------------------------------------------------------------------------------
    Case("include-short", {
        "compose.yaml": "include:\n  - ai/compose.yaml\nservices:\n  web: {image: x, models: [llm]}\n",
        "ai/compose.yaml": "services:\n  helper: {image: x, models: {llm: {endpoint_var: HELPER_URL}}}\n" + MODELS,
    }),
    Case("include-long-with-env", {
        "compose.yaml": """
include:
  - path: [lib/base.yaml, lib/extra.yaml]
    env_file: lib/settings.env
services:
  web: {image: x, models: [llm]}
""",
        "lib/base.yaml": "models:\n  llm: {model: \"${MODEL}\"}\n",
        "lib/extra.yaml": "models:\n  llm: {runtime_flags: [\"${FLAG}\"]}\n",
        "lib/settings.env": "MODEL=ai/included\nFLAG=--from-include-env\n",
    }),
    Case("include-dotenv-of-included-project", {
        "compose.yaml": "include:\n  - sub/compose.yaml\nservices:\n  web: {image: x, models: [llm]}\n",
        "sub/compose.yaml": "models:\n  llm: {model: \"${MODEL}\", runtime_flags: [\"${FLAG}\"]}\n",
        "sub/.env": "MODEL=ai/sub-dotenv\nFLAG=--sub\n",
    }, env={"FLAG": "--parent-wins"}),
    Case("include-conflict", {
        "compose.yaml": "include:\n  - sub/compose.yaml\nservices:\n  web: {image: x, models: [llm]}\n" + MODELS,
        "sub/compose.yaml": "models:\n  llm: {model: ai/different}\n",
    }, error=("compose.yaml", "models.llm", "conflicts with imported resource")),
    Case("include-cycle", {
        "compose.yaml": "include:\n  - a.yaml\nservices:\n  web: {image: x}\n",
        "a.yaml": "include:\n  - b.yaml\n",
        "b.yaml": "include:\n  - a.yaml\n",
    }, error=("include cycle",)),
    # --- extends -------------------------------------------------------------------------------------
    Case("extends-same-file", {"compose.yaml": """
services:
  base: {image: x, models: {llm: {endpoint_var: BASE_URL}}, profiles: [never]}
  app:
    extends: base
    profiles: !reset []
  app2:
    extends: {service: base}
    profiles: !reset []
    models: [coder]
models:
  llm: {model: ai/m}
  coder: {model: ai/c}
"""}),
    Case("extends-other-file", {
        "compose.yaml": "services:\n  app:\n    extends: {file: common/base.yaml, service: ai}\n    image: x\n" + MODELS,
        "common/base.yaml": "services:\n  ai:\n    image: y\n    models:\n      llm: {model_var: LLM_NAME}\n",
    }),
    Case("extends-chain", {
        "compose.yaml": "services:\n  app:\n    extends: {file: b.yaml, service: mid}\n" + MODELS,
        "b.yaml": "services:\n  mid:\n    extends: {file: c.yaml, service: root}\n    models: [llm]\n",
        "c.yaml": "services:\n  root: {image: x, models: {llm: {endpoint_var: ROOT_URL}}}\n",
    }),
    Case("extends-unknown", {"compose.yaml": "services:\n  app:\n    extends: ghost\n    image: x\n"},
         error=("compose.yaml", "services.app.extends", "ghost")),
    Case("extends-cycle", {"compose.yaml": "services:\n  a: {extends: b, image: x}\n  b: {extends: a, image: x}\n"},
         error=("compose.yaml", "extends", "circular")),
    # --- profiles ------------------------------------------------------------------------------------
    Case("profile-inactive", {"compose.yaml": """
services:
  app: {image: x, models: [llm]}
  debug: {image: x, models: [big], profiles: [debug]}
models:
  llm: {model: ai/small}
  big: {model: ai/big}
"""}),
    Case("profile-active-flag", {"compose.yaml": """
services:
  app: {image: x, models: [llm]}
  debug: {image: x, models: [big], profiles: [debug, other]}
models:
  llm: {model: ai/small}
  big: {model: ai/big}
"""}, args=("--profile", "debug")),
    Case("profile-from-env", {"compose.yaml": """
services:
  a: {image: x, models: [llm], profiles: [one]}
  b: {image: x, models: [llm], profiles: [two]}
  c: {image: x, models: [llm], profiles: [three]}
""" + MODELS}, env={"COMPOSE_PROFILES": "one, two"}),
    Case("profile-star", {"compose.yaml": """
services:
  a: {image: x, models: [llm], profiles: [one]}
""" + MODELS}, args=("--profile", "*")),
    Case("undefined-model-in-inactive-profile", {"compose.yaml": """
services:
  app: {image: x, models: [llm]}
  debug: {image: x, models: [ghost], profiles: [debug]}
""" + MODELS}),
    Case("depends-on-inactive-profile", {"compose.yaml": """
services:
  app: {image: x, depends_on: [db], models: [llm]}
  db: {image: x, profiles: [db]}
""" + MODELS}, error=('service "app" depends on undefined service "db"',)),
    # --- invalid files -------------------------------------------------------------------------------
    Case("undefined-model", {"compose.yaml": "services:\n  app:\n    image: x\n    models: [ghost]\n" + MODELS},
         error=("compose.yaml:4", 'service "app" refers to undefined model ghost')),
    Case("bad-yaml", {"compose.yaml": "services:\n  app: {image: x\nmodels: [\n"}, error=("compose.yaml:3", "invalid YAML")),
    Case("context-size-string", uses_llm('{model: ai/m, context_size: "4096"}'), error=("compose.yaml:4", "models.llm.context_size", "integer")),
    Case("context-size-interpolated", {"compose.yaml": """
services:
  app: {image: x, models: [llm]}
models:
  llm:
    model: ai/m
    context_size: ${CTX:-4096}
"""}, error=("compose.yaml:6", "models.llm.context_size", "integer")),
    Case("context-size-null", uses_llm('{model: ai/m, context_size: null}'), error=("compose.yaml:4", "models.llm.context_size", "integer")),
    Case("unknown-model-key", uses_llm('{model: ai/m, contextsize: 10}'), error=("compose.yaml:4", "models.llm.contextsize", "unknown key")),
    Case("missing-model-reference", uses_llm('{context_size: 10}'), error=("compose.yaml:4", "models.llm", "'model'")),
    Case("runtime-flag-not-string", uses_llm('{model: ai/m, runtime_flags: [--threads, 4]}'), error=("compose.yaml", "models.llm.runtime_flags[1]", "string")),
    Case("runtime-flags-not-a-list", uses_llm('{model: ai/m, runtime_flags: "--threads 4"}'), error=("compose.yaml", "models.llm.runtime_flags", "list")),
    Case("binding-unknown-key", {"compose.yaml": """
services:
  app:
    image: x
    models:
      llm: {endpoint: LLM}
""" + MODELS}, error=("compose.yaml:5", "services.app.models.llm.endpoint", "unknown key")),
    Case("binding-duplicate-in-list", {"compose.yaml": "services:\n  app: {image: x, models: [llm, llm]}\n" + MODELS},
         error=("compose.yaml", "services.app.models", "unique")),
    Case("model-not-a-mapping", {"compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: ai/m\n"},
         error=("compose.yaml:4", "models.llm", "mapping")),
    Case("models-null", {"compose.yaml": "services:\n  app: {image: x}\nmodels:\n"},
         error=("compose.yaml:3", "models", "mapping")),
    Case("model-reference-not-string", uses_llm('{model: 42}'), error=("compose.yaml:4", "models.llm.model", "string")),
    Case("unknown-top-level-key", {"compose.yaml": "services:\n  app: {image: x}\nmodel:\n  llm: {model: ai/m}\n"},
         error=("compose.yaml:3", "model", "top-level")),
    Case("service-without-image", {"compose.yaml": "services:\n  app: {models: [llm]}\n" + MODELS},
         error=("compose.yaml", "app", "neither an image nor a build context")),
    Case("duplicate-key", {"compose.yaml": "services:\n  app: {image: x}\nmodels:\n  llm: {model: a}\n  llm: {model: b}\n"},
         error=("compose.yaml:5", "llm")),
    Case("non-string-key", {"compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  1: {model: a}\n"},
         error=("compose.yaml:4", "models")),
]

CASES += [
    # --- more environment rules ----------------------------------------------------------------------
    Case("dotenv-syntax-variants", {
        ".env": "export  SPACED=ai/spaced\nYAMLISH: --yaml-style\nINHERIT\nMULTI=\"line1\\nline2\"\n"
                "SINGLE='it\\'s'\nEMPTY=\nHASH=a#b\nDOLLARS=\"cost $$5\"\n",
        "compose.yaml": """
services:
  app: {image: x, models: [llm]}
models:
  llm:
    model: "${SPACED}"
    runtime_flags: ["${YAMLISH}", "${INHERIT}", "${MULTI}", "${EMPTY:-was-empty}", "${HASH}", "${DOLLARS}", "${SINGLE}"]
"""}, env={"INHERIT": "--inherited"}),
    Case("env-file-relative-to-cwd", {
        "a.env": "MODEL=ai/cwd-relative\n", "sub/a.env": "MODEL=ai/wrong\n",
        "sub/compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: \"${MODEL}\"}\n",
    }, args=("-f", "sub/compose.yaml", "--env-file", "a.env")),
    Case("project-directory-is-searched", {
        "stack/compose.yaml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS, "elsewhere/.keep": "",
    }, args=("--project-directory", "../stack"), cwd="elsewhere"),
    Case("dotenv-bad-line", {".env": "GOOD=1\nSINGLE='it''s'\n", "compose.yaml": "services:\n  app: {image: x}\n"},
         error=(".env:2", "unexpected character")),
    Case("compose-env-files-variable", {
        "one.env": "MODEL=ai/one\n", "two.env": "FLAG=--two\n",
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: \"${MODEL}\", runtime_flags: [\"${FLAG}\"]}\n",
    }, env={"COMPOSE_ENV_FILES": "one.env,two.env"}),
    Case("compose-disable-env-file", {
        ".env": "MODEL=ai/should-not-load\n",
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: \"${MODEL:-ai/default}\"}\n",
    }, env={"COMPOSE_DISABLE_ENV_FILE": "true"}),
    Case("compose-profiles-in-dotenv", {
        ".env": "COMPOSE_PROFILES=gpu\n",
        "compose.yaml": "services:\n  app: {image: x, models: [llm], profiles: [gpu]}\n  cpu: {image: x}\n" + MODELS,
    }),
    Case("profile-flag-beats-env", {
        "compose.yaml": "services:\n  a: {image: x, models: [llm], profiles: [a]}\n  b: {image: x, models: [llm], profiles: [b]}\n" + MODELS,
    }, args=("--profile", "b"), env={"COMPOSE_PROFILES": "a"}),
    Case("depends-on-optional-inactive", {"compose.yaml": """
services:
  app:
    image: x
    models: [llm]
    depends_on:
      db: {condition: service_started, required: false}
  db: {image: x, profiles: [db]}
""" + MODELS}),
    Case("keys-are-not-interpolated", {"compose.yaml": """
services:
  app:
    image: x
    models: [llm]
    environment:
      ${NOT_INTERPOLATED}: value
models:
  llm: {model: ai/m}
"""}, env={"NOT_INTERPOLATED": "X"}),
    Case("stdin-is-not-needed-name-from-second-file", {
        "compose.yaml": "name: first\nservices:\n  app: {image: x, models: [llm]}\n" + MODELS,
        "second.yaml": "name: second\n",
    }, args=("-f", "compose.yaml", "-f", "second.yaml")),
    Case("project-directory-names-project", {
        "files/compose.yaml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS, "Other_Dir/.keep": "",
    }, args=("-f", "files/compose.yaml", "--project-directory", "Other_Dir")),
    Case("compose-yaml-preferred", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: ai/compose-yaml}\n",
        "docker-compose.yml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: ai/docker-compose}\n",
    }),
    Case("compose-yml-variant", {
        "compose.yml": "services:\n  app: {image: x, models: [llm]}\n" + MODELS,
        "compose.override.yaml": "models:\n  llm: {context_size: 77}\n",
    }),
    # --- more merge rules ----------------------------------------------------------------------------
    Case("merge-null-keeps-base", {
        "compose.yaml": "services:\n  app: {image: x, models: {llm: {endpoint_var: KEEP}}}\nmodels:\n  llm: {model: ai/m, context_size: 5}\n",
        "extra.yaml": "services:\n  app:\n    models:\n      llm:\nmodels:\n  llm:\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml")),
    Case("merge-reset-whole-model", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\n  b: {image: x}\n" + MODELS,
        "extra.yaml": "models:\n  llm: !reset\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml"), error=('service "app" refers to undefined model llm',)),
    Case("merge-override-whole-model", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: ai/m, context_size: 5, runtime_flags: [--a]}\n",
        "extra.yaml": "models:\n  llm: !override {model: ai/replaced}\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml")),
    Case("merge-profiles-append", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm], profiles: [a]}\n" + MODELS,
        "extra.yaml": "services:\n  app:\n    profiles: [b]\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml", "--profile", "b")),
    Case("merge-service-only-in-override", {
        "compose.yaml": "services:\n  app: {image: x}\n" + MODELS,
        "extra.yaml": "services:\n  late: {image: y, models: [llm]}\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml")),
    # --- more include / extends ----------------------------------------------------------------------
    Case("include-nested-relative", {
        "compose.yaml": "include:\n  - a/compose.yaml\nservices:\n  web: {image: x, models: [llm, deep]}\n",
        "a/compose.yaml": "include:\n  - b/compose.yaml\n" + MODELS,
        "a/b/compose.yaml": "models:\n  deep: {model: ai/deep}\n",
    }),
    Case("include-uses-parent-variables", {
        "compose.yaml": "include:\n  - lib/compose.yaml\nservices:\n  web: {image: x, models: [llm]}\n",
        ".env": "MODEL=ai/parent-dotenv\n",
        "lib/compose.yaml": "models:\n  llm: {model: \"${MODEL}\"}\n",
    }),
    Case("include-project-directory", {
        "compose.yaml": "include:\n  - path: lib/compose.yaml\n    project_directory: settings\nservices:\n  web: {image: x, models: [llm]}\n",
        "lib/compose.yaml": "models:\n  llm: {model: \"${MODEL:-ai/no-dotenv}\"}\n",
        "settings/.env": "MODEL=ai/from-include-project-dir\n",
    }),
    Case("include-same-definition-is-fine", {
        "compose.yaml": "include:\n  - sub/compose.yaml\nservices:\n  web: {image: x, models: [llm]}\n" + MODELS,
        "sub/compose.yaml": MODELS,
    }),
    Case("extends-models-map-merge", {"compose.yaml": """
services:
  base: {image: x, models: [llm], profiles: [off]}
  app:
    extends: base
    profiles: !reset []
    models:
      llm: {endpoint_var: APP_URL}
models:
  llm: {model: ai/m}
"""}),
    Case("extends-other-file-interpolation", {
        ".env": "BASE_VAR=FROM_DOTENV_URL\n",
        "compose.yaml": "services:\n  app:\n    extends: {file: lib/base.yaml, service: svc}\n" + MODELS,
        "lib/base.yaml": "services:\n  svc: {image: x, models: {llm: {endpoint_var: \"${BASE_VAR}\"}}}\n",
    }),
    Case("extends-with-reset", {"compose.yaml": """
services:
  base: {image: x, models: [llm], profiles: [off]}
  app:
    extends: base
    profiles: !reset []
    models: !reset []
models:
  llm: {model: ai/m}
"""}),
    # --- more invalid --------------------------------------------------------------------------------
    Case("services-not-a-mapping", {"compose.yaml": "services:\n  - app\n"}, error=("compose.yaml:1", "services", "mapping")),
    Case("service-null", {"compose.yaml": "services:\n  app:\n" + MODELS}, error=("compose.yaml:2", "services.app", "mapping")),
    Case("binding-var-not-string", {"compose.yaml": """
services:
  app:
    image: x
    models:
      llm: {endpoint_var: 3}
""" + MODELS}, error=("compose.yaml:5", "services.app.models.llm.endpoint_var", "string")),
    Case("runtime-flags-merge-type-clash", {
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: ai/m, runtime_flags: [--a]}\n",
        "extra.yaml": "models:\n  llm: {runtime_flags: {a: b}}\n",
    }, args=("-f", "compose.yaml", "-f", "extra.yaml"), error=("extra.yaml:2", "models.llm.runtime_flags", "cannot override a sequence with a mapping")),
    Case("model-name-not-string", uses_llm('{model: ai/m, name: [a]}'), error=("compose.yaml:4", "models.llm.name", "string")),
    Case("context-size-bool", uses_llm('{model: ai/m, context_size: true}'), error=("compose.yaml:4", "models.llm.context_size", "integer")),
    Case("binding-invalid-in-inactive-service", {"compose.yaml": """
services:
  app: {image: x, models: [llm]}
  off:
    image: x
    profiles: [off]
    models:
      llm: {endpoint: X}
""" + MODELS}, error=("compose.yaml:7", "services.off.models.llm.endpoint", "unknown key")),
    Case("profiles-not-a-list", {"compose.yaml": "services:\n  app: {image: x, profiles: debug}\n"},
         error=("compose.yaml", "services.app.profiles", "list")),
]
