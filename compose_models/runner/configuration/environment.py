"""The variables the runner's process reads its scheduler's limits from, which ``compose-models serve``
sets from its options (so a detached runner inherits them): named once, for the command and the scheduler."""

BUDGET_VARIABLE = "COMPOSE_MODELS_MEMORY_BUDGET"
MAX_LOADED_VARIABLE = "COMPOSE_MODELS_MAX_LOADED_MODELS"
KEEP_ALIVE_VARIABLE = "COMPOSE_MODELS_KEEP_ALIVE"
