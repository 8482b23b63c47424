"""Write a template's stack into a folder: every file copied, none overwritten, model slots filled in."""

import shutil
from dataclasses import dataclass
from importlib import resources
from io import StringIO
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from compose_models.errors import UserError

DESCRIPTION_FILE = "template.yaml"
COMPOSE_FILE = "compose.yaml"
# Written by Python or editors inside a template's folder during development; never part of a stack.
IGNORED = {"__pycache__", ".DS_Store"}


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    folder: Path

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
            description = YAML(typ="safe").load((folder / DESCRIPTION_FILE).read_text())["description"]
            found.append(Template(folder.name, str(description), folder))
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


def write_stack(template: Template, destination: Path, models: dict[str, str]) -> list[Path]:
    """Copy the template into ``destination`` and set the chosen models; the paths written.

    Nothing is written when any file of the stack already exists there, so a user's file is never lost.
    """
    files = template.files()
    taken = [destination / path for path in files if (destination / path).exists()]
    if taken:
        raise UserError(f"{destination}: would overwrite {', '.join(str(path) for path in taken)}; "
                        "choose an empty folder (compose-models init TEMPLATE DIR)")  # fmt: skip
    compose_text = _with_models(template, models)
    written = []
    for path in files:
        target = destination / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if path == Path(COMPOSE_FILE):
            target.write_text(compose_text)
        else:
            shutil.copyfile(template.folder / path, target)
            shutil.copymode(template.folder / path, target)
        written.append(target)
    return written


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
