"""``compose-models up`` and ``down``, and the steps ``up`` shares with ``watch``.

``up``: plan -> models present -> runner configured -> models loaded -> variables injected ->
``docker compose up`` (``deploy`` is every step before the last, which ``watch`` repeats on each edit).
``down``: ``docker compose down`` with the same files ``up`` used, then the project's models released.
"""

import sys
from dataclasses import dataclass

from compose_models.compose import ComposeProject, Plan, PlannedModel, ProjectOptions, load_project, resolve_plan
from compose_models.compose.keep_alive import X_KEEP_ALIVE, checked_keep_alive
from compose_models.docker_host import NO_ENGINE, detect_docker_host
from compose_models.errors import UserError
from compose_models.gateway.service_keys import issued_service_keys
from compose_models.orchestrator.caller_keys import caller_key_environment
from compose_models.orchestrator.docker_compose import run_compose
from compose_models.orchestrator.invocation import compose_arguments
from compose_models.orchestrator.model_upstream import X_UPSTREAM, routed_name, runner_upstreams
from compose_models.orchestrator.override import service_environment
from compose_models.runner.configuration.presets import PRESETS, with_preset
from compose_models.runner.configuration.runtime_flags import parse_runtime_flags
from compose_models.runner.control import daemon
from compose_models.runner.control.client import RunnerClient
from compose_models.runner.control.state import default_port
from compose_models.store import ModelStore


@dataclass
class Deployment:
    """A loaded project, its plan, and the runner that serves it."""

    options: ProjectOptions
    project: ComposeProject
    plan: Plan
    runner: RunnerClient
    endpoint: str
    host_gateway: bool = False  # the probe reached the runner only through extra_hosts host-gateway

    def compose_arguments(self) -> list[str]:
        """``docker compose`` global options for this project, its model variables (and keys) included."""
        environment = service_environment(self.plan, self.endpoint)
        keys = issued_service_keys()
        if keys is not None:
            for service, variables in caller_key_environment(self.plan, self.project, keys).items():
                environment[service] = {**variables, **environment[service]}
        return compose_arguments(
            self.project,
            self.options,
            environment,
            host_gateway=self.host_gateway,
        )


def load(options: ProjectOptions) -> tuple[ComposeProject, Plan]:
    """The project and its plan, with each model's ``x-preset`` expanded into its runtime flags, which are checked,
    and each model's ``x-upstream`` replaced by the runner's name for that upstream's model."""
    project = load_project(options)
    plan = resolve_plan(project)
    upstreams = None  # the runner's upstreams file, read for the first model that names one
    for key, model in plan.models.items():
        upstream = project.models[key].extensions.get(X_UPSTREAM)
        if upstream is not None:
            upstreams = upstreams or runner_upstreams()
            model.upstream, model.model = routed_name(project.config_files[0], key, model.model, upstream, *upstreams)
        model.keep_alive = checked_keep_alive(
            project.models[key].extensions.get(X_KEEP_ALIVE), project.config_files[0], key
        )
        preset = project.models[key].extensions.get("x-preset")
        if preset is not None:
            if not isinstance(preset, str) or preset not in PRESETS:
                raise UserError(
                    f"{project.config_files[0]}: models.{key}.x-preset: expected one of {', '.join(PRESETS)}, got {preset!r}"
                )
            model.runtime_flags = with_preset(preset, model.runtime_flags)
        try:
            parse_runtime_flags(model.runtime_flags)  # refuse a bad flag before anything changes
        except UserError as error:
            raise UserError(f"{project.config_files[0]}: models.{key}.runtime_flags: {error}") from None
    return project, plan


def ensure_model(store: ModelStore, key: str, model: PlannedModel, project: ComposeProject) -> None:
    """Pull a model that is not in the store, and the draft model its runtime flags name (``--model-draft``);
    fail with how to get either when that is impossible."""
    if model.upstream is not None:
        return  # an upstream's model, and its draft, are the upstream's to have
    where = f"models.{key} in {project.config_files[0]}"
    _pull_missing(store, model.model, f"model {model.model!r} ({where})")
    draft = parse_runtime_flags(model.runtime_flags).draft_model  # checked by load
    if draft is not None:
        _pull_missing(store, draft, f"draft model {draft!r} (runtime_flags of {where})")


def _pull_missing(store: ModelStore, reference: str, described: str) -> None:
    if store.find(reference) is not None:
        return
    # imported here: pulling's machinery (Hugging Face, progress bars) would slow every `down` by a quarter second
    from compose_models.store.pull import pull_model
    from compose_models.store.transfer_progress import transfer_display

    try:
        with transfer_display() as transfers:
            pull_model(store, reference, transfers=transfers)
    except UserError as error:
        raise UserError(
            f"{described} is not in the local store and could not be pulled ({error}); get it with "
            f"`compose-models pull {reference}` or `compose-models package --gguf FILE {reference}`"
        ) from None


def warm_models(runner: RunnerClient, plan: Plan, project: str) -> None:
    """Load each model before the services start, kept loaded while the project is up; say how long each took."""
    for key, model in plan.models.items():
        if model.upstream is None:
            seconds = runner.load(model.model, project)
            print(f"{key}: loaded {model.model} in {seconds:.1f} s", file=sys.stderr, flush=True)


def deploy(options: ProjectOptions) -> Deployment:
    """Load the project, make sure its models are present, start and configure the runner."""
    project, plan = load(options)
    docker = detect_docker_host()
    if docker.kind == NO_ENGINE and docker.fix:  # an engine Compose cannot use: say why before pulling or starting
        raise UserError(f"{docker.problem}\nfix: {docker.fix}")
    store = ModelStore.default()
    for key, model in plan.models.items():
        ensure_model(store, key, model, project)
    state = daemon.ensure_running(default_port())
    runner = RunnerClient(state)
    for key, model in plan.models.items():
        if model.upstream is not None:
            continue  # the upstream's own settings apply
        try:
            runner.configure(model.model, model.context_size, model.runtime_flags, model.keep_alive, project.name)
        except UserError as error:  # the checks that need the model, such as its trained context
            raise UserError(f"{project.config_files[0]}: models.{key}: {error}") from None
    warm_models(runner, plan, project.name)
    document = daemon.status_document(state.port)  # probes which URL a container reaches the runner at
    return Deployment(options, project, plan, runner, str(document["endpoint"]), bool(document["reach"]["hostGateway"]))


def up(options: ProjectOptions, *, detach: bool, extra_args: list[str]) -> int:
    deployment = deploy(options)
    _warn_about_plugin(deployment.project)
    arguments = deployment.compose_arguments() + ["up"]
    if detach:
        arguments.append("-d")
    return run_compose(arguments + extra_args)


def _warn_about_plugin(project: ComposeProject) -> None:
    """Say so when Docker runs another docker-model plugin than ours and that matters (``plugin_warning``)."""
    from compose_models.integrations.plugin_install import plugin_warning

    provider_services = [
        name
        for name, service in project.services.items()
        if isinstance(service.get("provider"), dict) and service["provider"].get("type") == "model"
    ]
    warning = plugin_warning(provider_services)
    if warning is not None:
        print(warning, file=sys.stderr)


def down(options: ProjectOptions, extra_args: list[str]) -> int:
    """``docker compose down`` with the files ``up`` used; once it succeeded, the project's models are released."""
    project = load_project(options)
    code = run_compose(compose_arguments(project, options, {}) + ["down", *extra_args])
    if code == 0:
        release_models(project.name)
    return code


def release_models(project: str) -> None:
    """The project's models are no longer kept loaded: they unload after their keep-alive."""
    state = daemon.running_runner()
    if state is not None:
        released = RunnerClient(state).release(project)
        if released:
            print(f"released {len(released)} model(s) of project {project}", file=sys.stderr)
