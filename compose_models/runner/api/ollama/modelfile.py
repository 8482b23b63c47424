"""The ``modelfile`` string older Ollama clients send to ``/api/create``: FROM, PARAMETER, TEMPLATE,
SYSTEM, LICENSE and MESSAGE, as Ollama's parser reads them (commands in any case, ``#`` comments, values
bare to the end of the line, ``"quoted"`` or ``\"\"\"triple-quoted\"\"\"`` over several lines).
Any other command is refused, naming its line."""

import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from compose_models.runner.http.errors import ApiError

_COMMAND = re.compile(r"[ \t]*([A-Za-z]+)[ \t]*")
_WORD = re.compile(r"(\S+)[ \t]*")
SUPPORTED = ("FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "LICENSE", "MESSAGE")


@dataclass
class Modelfile:
    base: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # values as written; ``stop`` a list
    template: str | None = None
    system: str | None = None
    licenses: list[str] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)


def parse_modelfile(text: str) -> Modelfile:
    parsed = Modelfile()
    reader = _Reader(text)
    while reader.next_line():
        command = reader.command()
        if command == "PARAMETER":
            name, value = reader.word("a parameter name"), reader.value()
            if name == "stop":
                parsed.parameters.setdefault("stop", []).append(value)
            else:
                parsed.parameters[name] = value
        elif command == "MESSAGE":
            role = reader.word("a role (system, user or assistant)")
            if role not in ("system", "user", "assistant"):
                reader.fail(f"MESSAGE role {role!r}: expected system, user or assistant")
            parsed.messages.append({"role": role, "content": reader.value()})
        elif command == "FROM":
            parsed.base = reader.value()
        elif command == "TEMPLATE":
            parsed.template = reader.value()
        elif command == "SYSTEM":
            parsed.system = reader.value()
        else:
            parsed.licenses.append(reader.value())
        reader.end_of_line()
    if parsed.base is None:
        raise ApiError(400, "modelfile: no FROM line: expected FROM <model name> or FROM @sha256:<digest of a blob>")
    return parsed


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.at = 0

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.at) + 1

    def fail(self, problem: str) -> NoReturn:
        raise ApiError(400, f"modelfile line {self.line}: {problem}")

    def next_line(self) -> bool:
        """Past blank and comment lines, to the next command; False at the end."""
        while self.at < len(self.text):
            end = self.text.find("\n", self.at)
            end = len(self.text) if end < 0 else end
            line = self.text[self.at:end].strip()
            if line and not line.startswith("#"):
                return True
            self.at = end + 1
        return False

    def command(self) -> str:
        match = _COMMAND.match(self.text, self.at)
        word = match[1].upper() if match else self.text[self.at:].split(None, 1)[0]
        if match is None or word not in SUPPORTED:  # a supported word is one _COMMAND matched
            self.fail(f"{word} is not supported here: expected one of {', '.join(SUPPORTED)}")
        self.at = match.end()
        return word

    def word(self, what: str) -> str:
        match = _WORD.match(self.text, self.at)
        if not match or "\n" in match[1]:
            self.fail(f"expected {what}")
        self.at = match.end()
        return match[1]

    def value(self) -> str:
        for quote in ('"""', '"'):
            if self.text.startswith(quote, self.at):
                start = self.at + len(quote)
                end = self.text.find(quote, start)
                if end < 0:
                    self.fail(f"the value opened with {quote} is never closed")
                self.at = end + len(quote)
                return self.text[start:end]
        end = self.text.find("\n", self.at)
        end = len(self.text) if end < 0 else end
        value, self.at = self.text[self.at:end].strip(), end
        if not value:
            self.fail("expected a value after the command")
        return value

    def end_of_line(self) -> None:
        end = self.text.find("\n", self.at)
        end = len(self.text) if end < 0 else end
        if self.text[self.at:end].strip():
            self.fail(f"unexpected text after the value: {self.text[self.at:end].strip()!r}")
        self.at = end + 1
