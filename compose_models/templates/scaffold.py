"""Write a template's stack into a folder: every file copied, none overwritten, no link followed, model slots
filled in, the stack's API keys made."""

import stat
from dataclasses import dataclass, field
from importlib import resources
from io import StringIO
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from compose_models.errors import UserError
from compose_models.templates.keys import KeySpec, key_specs, make_keys
from compose_models.templates.no_follow import create_file, links_in, opened_folder

DESCRIPTION_FILE = "template.yaml"
COMPOSE_FILE = "compose.yaml"
# Written by Python or editors inside a template's folder during development; never part of a stack.
IGNORED = {"__pycache__", ".DS_Store"}


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    folder: Path
    api_keys: tuple[KeySpec, ...] = field(default=())

    def model_slots(self) -> dict[str, str]:
        """Each model slot of the stack and its default reference."""
        document = _round_trip().load((self.folder / COMPOSE_FILE).read_text())
        return {slot: str(definition.get("model", "")) for slot, definition in _slot_definitions(document).items()}

    def files(self) -> list[Path]:
        """The stack's files, relative to the template's folder."""
        return sorted(
            path.relative_to(self.folder)
            for path in self.folder.rglob("*")
            if path.is_file() and path.name != DESCRIPTION_FILE and not IGNORED & set(path.parts)
        )


def _slot_definitions(document: dict) -> dict[str, dict]:
    """The mapping that holds each slot's ``model``: a top-level ``models:`` entry, or the options of a
    ``provider: {type: compose-models}`` service (a stack that declares its model as a provider service)."""
    slots = dict(document.get("models") or {})
    for name, service in (document.get("services") or {}).items():
        provider = (service or {}).get("provider") or {}
        if provider.get("type") == "compose-models":
            slots[name] = provider.setdefault("options", {})
    return slots


def _round_trip() -> YAML:
    yaml = YAML()  # round-trip: the written compose.yaml keeps the template's comments and order
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def templates() -> list[Template]:
    root = Path(str(resources.files(__package__)))
    found = []
    for folder in sorted(root.iterdir()):
        if (folder / DESCRIPTION_FILE).is_file():
            description = YAML(typ="safe").load((folder / DESCRIPTION_FILE).read_text())
            keys = tuple(key_specs(description, folder / DESCRIPTION_FILE))
            found.append(Template(folder.name, str(description["description"]), folder, keys))
    return found


def find(name: str) -> Template:
    known = {template.name: template for template in templates()}
    if name not in known:
        raise UserError(f"no template named {name!r}; the templates are: {', '.join(known)} (compose-models init --list)")
    return known[name]


def parse_model_choices(choices: list[str], template: Template) -> dict[str, str]:
    """``SLOT=REF`` options as a mapping, each slot one of the template's."""
    slots = template.model_slots()
    chosen: dict[str, str] = {}
    for choice in choices:
        slot, equals, reference = choice.partition("=")
        if not equals or not slot or not reference.strip():
            raise UserError(f"--model {choice!r}: expected SLOT=REFERENCE, e.g. --model {next(iter(slots))}=ai/smollm2")
        if slot not in slots:
            raise UserError(f"--model {choice!r}: the {template.name} template has no model slot {slot!r}; "
                            f"its slots are: {', '.join(slots)}")  # fmt: skip
        chosen[slot] = reference.strip()
    return chosen


@dataclass(frozen=True)
class Written:
    paths: list[Path]
    keys: dict[str, str]  # the stack's API keys by caller, to show once


def write_stack(template: Template, destination: Path, models: dict[str, str]) -> Written:
    """Copy the template into ``destination``, set the chosen models and make its API keys.

    Nothing is written when any file of the stack already exists there, so a user's file is never lost, nor
    when a symbolic link is in the way (it could point anywhere); each file is created new, never through a link.
    """
    files = template.files()
    made = make_keys(list(template.api_keys))
    relative_paths = [*files, *made.files]
    links = links_in(destination, relative_paths)
    if links:
        raise UserError(f"{', '.join(str(path) for path in links)}: a symbolic link where init would write; init "
                        "writes nothing through a link (it may point outside the folder): choose another folder")  # fmt: skip
    taken = [destination / path for path in relative_paths if (destination / path).exists()]
    if taken:
        raise UserError(f"{destination}: would overwrite {', '.join(str(path) for path in taken)}; "
                        "choose an empty folder (compose-models init TEMPLATE DIR)")  # fmt: skip
    compose_text = _with_models(template, models)
    written = []
    with opened_folder(destination) as root:
        for path in files:
            source = template.folder / path
            data = compose_text.encode() if path == Path(COMPOSE_FILE) else source.read_bytes()
            create_file(root, destination, path, data, stat.S_IMODE(source.stat().st_mode))
            written.append(destination / path)
        for path, (text, mode) in made.files.items():
            create_file(root, destination, path, text.encode(), mode)
            written.append(destination / path)
    return Written(written, made.keys)


def _with_models(template: Template, models: dict[str, str]) -> str:
    yaml = _round_trip()
    source = template.folder / COMPOSE_FILE
    try:
        document = yaml.load(source.read_text())
    except YAMLError as error:  # a broken template is this package's bug, but say where
        raise UserError(f"{source}: not valid YAML: {error}") from error
    slots = _slot_definitions(document)
    for slot, reference in models.items():
        slots[slot]["model"] = reference
    text = StringIO()
    yaml.dump(document, text)
    return text.getvalue()
