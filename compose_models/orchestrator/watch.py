"""``compose-models watch``: keep a running stack in step with edits to its compose files and ``.env``.

On each change the project is loaded again. An invalid edit is reported and nothing is touched.
Otherwise: new models are pulled, models whose settings changed are reconfigured (and reloaded if
they were loaded), dropped models are unloaded, and ``docker compose up -d`` recreates exactly the
services whose injected variables changed.
"""

import sys
from pathlib import Path

import watchfiles

from compose_models.compose import ProjectOptions
from compose_models.errors import UserError
from compose_models.orchestrator.deploy import Deployment, deploy, ensure_model, load
from compose_models.orchestrator.docker_compose import run_compose
from compose_models.orchestrator.override import service_environment
from compose_models.store import ModelStore


def say(message: str) -> None:
    print(f"compose-models watch: {message}", file=sys.stderr, flush=True)


def watched_files(deployment: Deployment) -> set[Path]:
    project = deployment.project
    return {path.resolve() for path in [*project.config_files, *project.env_files, project.working_dir / ".env"]}


def redeploy(previous: Deployment) -> Deployment:
    project, plan = load(previous.options)  # refuses a bad flag before anything changes
    store = ModelStore.default()
    for key, model in plan.models.items():
        ensure_model(store, key, model, project)
    before = {model.model: model for model in previous.plan.models.values()}
    after = {model.model: model for model in plan.models.values()}
    loaded = {entry["model_name"] for entry in previous.runner.running()}
    for reference, model in after.items():
        if before.get(reference) != model and model.upstream is None:
            previous.runner.configure(model.model, model.context_size, model.runtime_flags, model.keep_alive, project.name)
            if reference in loaded or reference not in before:
                previous.runner.load(reference, project.name)
            say(f"configured {reference} (context size {model.context_size or 'default'}, flags {model.runtime_flags})")
    # An upstream's model is the upstream's to unload.
    dropped = [reference for reference, model in before.items() if reference not in after and model.upstream is None]
    if dropped:
        previous.runner.unload(dropped)
        say(f"unloaded {', '.join(dropped)}")
    return Deployment(previous.options, project, plan, previous.runner, previous.endpoint, previous.host_gateway)


def _compose_up(deployment: Deployment, extra_args: list[str]) -> int:
    return run_compose(deployment.compose_arguments() + ["up", "-d", *extra_args])


def watch(options: ProjectOptions, extra_args: list[str]) -> int:
    deployment = deploy(options)
    code = _compose_up(deployment, extra_args)
    if code:
        return code
    files = watched_files(deployment)
    say(f"watching {', '.join(sorted(map(str, files)))}")
    directories = sorted({str(path.parent) for path in files})
    for _ in watchfiles.watch(*directories, watch_filter=lambda _, path: Path(path).resolve() in files):  # noqa: B023 - the latest files, on purpose
        try:
            updated = redeploy(deployment)
        except UserError as error:
            say(f"invalid edit, the running stack is left as it was: {error}")
            continue
        services_changed = (
            service_environment(updated.plan, updated.endpoint) != service_environment(deployment.plan, deployment.endpoint)
            or updated.project.services != deployment.project.services
        )
        deployment = updated
        files = watched_files(deployment)
        if services_changed and _compose_up(deployment, extra_args) != 0:
            say("docker compose up failed; fix the files and save again")
    return 0
