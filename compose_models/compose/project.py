"""Load a Compose project as ``docker compose`` does: files, environment, name, merge, profiles, checks."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from compose_models.compose.consistency import check_enabled_services
from compose_models.compose.environment import add_env_files, env_files_to_load
from compose_models.compose.extends import apply_extends
from compose_models.compose.files import STDIN, absolute, config_files
from compose_models.compose.include import apply_includes
from compose_models.compose.interpolation import (
    InterpolationError,
    interpolate_tree,
    interpolation_message,
    substitute,
)
from compose_models.compose.merge import MergeConflict, merge_files, strip_tags
from compose_models.compose.naming import check_explicit_project_name, normalize_project_name
from compose_models.compose.profiles import active_profiles, enabled_services
from compose_models.compose.schema import Checker, ModelDefinition, ServiceModelBinding
from compose_models.compose.yaml_source import KeyPath, SourceMap, YamlDocument, parse_documents, read_compose_file
from compose_models.errors import UserError


@dataclass
class ProjectOptions:
    """What ``docker compose`` takes on its command line (and from where it runs)."""

    files: Sequence[str] = ()  # -f, in order; "-" reads standard input
    project_name: str | None = None  # -p
    project_directory: str | None = None
    env_files: Sequence[str] = ()
    profiles: Sequence[str] = ()
    cwd: Path = field(default_factory=Path.cwd)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stdin: TextIO | None = None  # where "-" is read from (default: sys.stdin)


@dataclass
class ComposeProject:
    name: str
    working_dir: Path
    config_files: list[Path]
    env_files: list[Path]
    profiles: list[str]
    environment: dict[str, str]
    models: dict[str, ModelDefinition]  # every declared model, used or not
    services: dict[str, dict[str, Any]]  # enabled services only, merged and interpolated
    service_models: dict[str, dict[str, ServiceModelBinding]]  # enabled services that bind models
    disabled_services: list[str] = field(default_factory=list)


def load_project(options: ProjectOptions) -> ComposeProject:
    cwd = Path(options.cwd)
    project_dir = absolute(options.project_directory, cwd) if options.project_directory else None

    environment = dict(options.environ)
    used_env_files = env_files_to_load(options.env_files, environment, cwd, project_dir or cwd)
    add_env_files(environment, used_env_files)
    files = config_files(options.files, environment, cwd, project_dir or cwd)
    working_dir = project_dir or (files[0].parent if files[0] != Path(STDIN) else cwd)
    # Compose resolves env files a second time, now that the working directory may be the file's.
    late_env_files = [
        file for file in env_files_to_load(options.env_files, environment, cwd, working_dir) if file not in used_env_files
    ]
    add_env_files(environment, late_env_files)
    used_env_files += late_env_files

    sources = SourceMap()
    documents = [(file, _read(file, options)) for file in files]
    name = _project_name(options.project_name, environment, documents, working_dir)
    environment.setdefault("COMPOSE_PROJECT_NAME", name)

    loader = _Loader(sources)
    merged: dict[str, Any] = {}
    for file, file_documents in documents:
        for document in file_documents:
            merged = loader.merge(merged, loader.layer(document, file, environment, working_dir, ()))
    merged = strip_tags(merged)
    merged.pop("version", None)
    return _typed_project(merged, sources, name, working_dir, files, used_env_files, options, environment)


def _read(file: Path, options: ProjectOptions) -> list[YamlDocument]:
    if file == Path(STDIN):
        return parse_documents((options.stdin or sys.stdin).read(), "-")
    return read_compose_file(file)


def _project_name(
    explicit: str | None,
    environment: Mapping[str, str],
    documents: list[tuple[Path, list[YamlDocument]]],
    working_dir: Path,
) -> str:
    if explicit:
        return check_explicit_project_name(explicit, "-p")
    if environment.get("COMPOSE_PROJECT_NAME"):
        return check_explicit_project_name(environment["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
    declared = None
    for _file, file_documents in documents:
        for document in file_documents:
            if isinstance(document.data.get("name"), str):
                try:
                    declared = substitute(document.data["name"], environment.get)
                except InterpolationError as error:
                    raise UserError(f"{document.source}: {interpolation_message(('name',), error)}") from None
    name = normalize_project_name(declared if declared is not None else working_dir.name)
    if not name:
        raise UserError("project name must not be empty")
    return name


class _Loader:
    """Turns one YAML document into its interpolated content, with includes and extends applied."""

    def __init__(self, sources: SourceMap) -> None:
        self._sources = sources

    def layer(
        self,
        document: YamlDocument,
        file: Path,
        environment: Mapping[str, str],
        working_dir: Path,
        chain: tuple[Path, ...],
    ) -> dict[str, Any]:
        self._sources.add(document)
        data = self._interpolate(document, environment)
        data = apply_includes(data, document.source, working_dir, environment, (*chain, file), self._load_included)
        return apply_extends(data, file if file != Path(STDIN) else working_dir / "-",
                             lambda other: self._services_of(other, environment))

    def merge(self, merged: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
        """``layer`` merged on top of ``merged``; a conflict names the file that caused it."""
        try:
            return merge_files(merged, layer)
        except MergeConflict as conflict:
            raise UserError(f"{self._sources.locate(conflict.path)}: {conflict}") from None

    def _interpolate(self, document: YamlDocument, environment: Mapping[str, str]) -> dict[str, Any]:
        def error_at(path: KeyPath, error: InterpolationError) -> UserError:
            line = document.lines.get(path)
            where = f"{document.source}:{line}" if line else document.source
            return UserError(f"{where}: {interpolation_message(path, error)}")

        return interpolate_tree(document.data, environment.get, error_at)

    def _load_included(
        self, files: list[Path], environment: dict[str, str], working_dir: Path, chain: tuple[Path, ...]
    ) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for file in files:
            for document in read_compose_file(file):
                merged = self.merge(merged, self.layer(document, file, environment, working_dir, chain))
        return strip_tags(merged)

    def _services_of(self, file: Path, environment: Mapping[str, str]) -> dict[str, Any]:
        services: dict[str, Any] = {}
        for document in read_compose_file(file):
            self._sources.add(document)
            data = self._interpolate(document, environment)
            if isinstance(data.get("services"), dict):
                services.update(data["services"])
        return services


def _typed_project(
    merged: dict[str, Any],
    sources: SourceMap,
    name: str,
    working_dir: Path,
    files: list[Path],
    env_files: list[Path],
    options: ProjectOptions,
    environment: dict[str, str],
) -> ComposeProject:
    checker = Checker(sources)
    checker.top_level(merged)
    models = checker.models(merged.get("models") or {})
    all_services: dict[str, Any] = merged.get("services") or {}
    all_bindings = {}
    for service_name, service in all_services.items():
        if checker.mapping(service, ("services", service_name)).get("models") is not None:
            all_bindings[service_name] = checker.service_models(service_name, service["models"])
    profiles = active_profiles(options.profiles, environment)
    enabled = enabled_services(all_services, profiles, checker)
    service_models = {name: bindings for name, bindings in all_bindings.items() if name in enabled}
    check_enabled_services(enabled, service_models, models, sources)
    return ComposeProject(
        name=name,
        working_dir=working_dir,
        config_files=files,
        env_files=env_files,
        profiles=profiles,
        environment=environment,
        models=models,
        services=enabled,
        service_models=service_models,
        disabled_services=[service for service in all_services if service not in enabled],
    )
