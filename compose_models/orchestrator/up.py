"""``compose-models up``: plan -> models present -> runner configured -> variables injected -> ``docker compose up``."""

from compose_models.compose import ProjectOptions, load_project, resolve_plan
from compose_models.errors import UserError
from compose_models.home import store_dir
from compose_models.orchestrator.docker_compose import run_compose
from compose_models.orchestrator.override import needs_host_gateway, render_override, service_environment, write_override
from compose_models.orchestrator.project_args import compose_project_args, project_state_dir, services_with_models
from compose_models.runner import daemon
from compose_models.runner.client import RunnerClient
from compose_models.runner.docker_host import detect_docker_host
from compose_models.runner.state import default_port
from compose_models.store.store import ModelStore


def up(options: ProjectOptions, *, detach: bool, extra_args: list[str]) -> int:
    project = load_project(options)
    plan = resolve_plan(project)
    store = ModelStore(store_dir())
    for key, model in plan.models.items():
        if store.find(model.model) is None:
            raise UserError(
                f"model {model.model!r} (models.{key} in {project.config_files[0]}) is not in the local store: "
                f"get it with `compose-models pull {model.model}` or `compose-models package --gguf FILE {model.model}`"
            )
    state = daemon.ensure_running(default_port())
    runner = RunnerClient(state)
    for model in plan.models.values():
        runner.configure(model.model, model.context_size, model.runtime_flags)
    endpoint = daemon.status_document(state.port)["endpoint"]
    override = write_override(
        project_state_dir(project),
        render_override(
            services_with_models(project),
            service_environment(plan, endpoint),
            host_gateway=needs_host_gateway(endpoint, detect_docker_host()),
        ),
    )
    arguments = compose_project_args(project, options, override) + ["up"]
    if detach:
        arguments.append("-d")
    return run_compose(arguments + extra_args)
