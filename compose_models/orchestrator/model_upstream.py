"""A Compose model's ``x-upstream: NAME``: for this stack, the model is one that the runner's upstream ``NAME``
serves, reached under the runner's name for it (``<prefix>/<model>``), rather than pulled and run here."""

from pathlib import Path
from typing import Any

from compose_models.errors import UserError
from compose_models.runner.upstreams.config import ALL_MODELS, Upstream, configured_upstreams_path, load_upstreams

X_UPSTREAM = "x-upstream"


def runner_upstreams() -> tuple[Path, list[Upstream]]:
    """The runner's upstreams file (as ``serve`` finds it without ``--upstreams``) and what it declares."""
    path, required = configured_upstreams_path()
    return path, load_upstreams(path, required)


def routed_name(compose_file: Path, key: str, model: str, value: Any, upstreams_file: Path,
                upstreams: list[Upstream]) -> tuple[str, str]:  # fmt: skip
    """The upstream ``value`` names, and the name the runner serves its ``model`` under. UserError naming
    ``compose_file``, the key ``models.<key>.x-upstream`` and the upstreams the file declares."""
    where = f"{compose_file}: models.{key}.{X_UPSTREAM}"
    known = ", ".join(repr(upstream.name) for upstream in upstreams)
    declared = f"the runner's upstreams file {upstreams_file} declares {known}" if known else (
        f"the runner has no upstreams (no file {upstreams_file}, or an empty one): see docs/scale-out.md")
    if not isinstance(value, str):
        raise UserError(f"{where}: expected the name of one of the runner's upstreams ({declared}), got {value!r}")
    upstream = next((upstream for upstream in upstreams if upstream.name == value), None)
    if upstream is None:
        raise UserError(f"{where}: unknown upstream {value!r}; {declared}")
    remote = upstream.short_name(model)
    served = [upstream.short_name(name) for name in upstream.models] if upstream.models != ALL_MODELS else None
    if served is not None and remote not in served:
        raise UserError(f"{where}: upstream {value!r} does not serve {model!r}: its models in {upstreams_file} "
                        f"are {', '.join(served)}")  # fmt: skip
    return upstream.name, upstream.local_name(remote)
