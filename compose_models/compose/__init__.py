"""Loading Compose files exactly as Docker Compose does, and the plan of models they ask for."""

from compose_models.compose.plan import Plan, PlannedModel, PlannedService, VariableNames, resolve_plan, variable_prefix
from compose_models.compose.project import ComposeProject, ProjectOptions, load_project
from compose_models.compose.schema import ModelDefinition, ServiceModelBinding

__all__ = [
    "ComposeProject",
    "ModelDefinition",
    "Plan",
    "PlannedModel",
    "PlannedService",
    "ProjectOptions",
    "ServiceModelBinding",
    "VariableNames",
    "load_project",
    "resolve_plan",
    "variable_prefix",
]
