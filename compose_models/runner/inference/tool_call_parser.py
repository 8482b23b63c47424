"""Finding a model's tool calls in its text as it streams: content before a call is passed on at once,
a call is announced (id and name) as soon as its name is known, and its arguments follow as they arrive.

Text that could still be the start of a call's marker is held back until the next piece shows
whether it is. What began like a call but is none is given back as the text it was.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import cast

from compose_models.runner.inference.stop_sequences import overlap
from compose_models.runner.inference.tool_call_format import ARGUMENTS_MARKER, ARRAY, NAMED, ToolCallFormat


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class CallStart:
    index: int
    call_id: str
    name: str


@dataclass(frozen=True)
class Arguments:
    index: int
    fragment: str


Piece = Text | CallStart | Arguments

# A call object's beginning, up to where its arguments start: from there they can be streamed.
_HEAD = re.compile(
    r'\s*\{\s*(?:"type"\s*:\s*"function"\s*,\s*)?'  # Llama 3.x may say what it is calling
    r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"(?:arguments|parameters)"\s*:\s*'
)


@dataclass
class _JsonEnd:
    """Where a JSON value (an object, a list or a string) ends, read one character at a time."""

    depth: int = 0
    began: bool = False
    in_string: bool = False
    escaped: bool = False

    def take(self, char: str) -> bool:
        """Whether ``char`` ends the value."""
        if self.in_string:
            if self.escaped:
                self.escaped = False
            elif char == "\\":
                self.escaped = True
            elif char == '"':
                self.in_string = False
                return self.depth == 0
            return False
        if char.isspace() and not self.began:
            return False
        self.began = True
        if char == '"':
            self.in_string = True
        elif char in "{[":
            self.depth += 1
        elif char in "}]":
            self.depth -= 1
            return self.depth <= 0
        return False


@dataclass
class _ArgumentsStream:
    """A call's arguments as they arrive, up to their end; arguments written as a JSON string are
    decoded once whole."""

    end: _JsonEnd = field(default_factory=_JsonEnd)
    held: str = ""  # a string value, kept whole
    streamed: bool = False
    ended: bool = False

    def take(self, text: str) -> tuple[int, str]:
        """How much of ``text`` belongs to the arguments, and the fragment to pass on."""
        consumed = len(text)
        for offset, char in enumerate(text):
            if self.end.take(char):
                consumed, self.ended = offset + 1, True
                break
        fragment = text[:consumed]
        if not (self.streamed or self.held):
            fragment = fragment.lstrip()
            if not fragment:
                return consumed, ""
        if self.held or (not self.streamed and fragment.startswith('"')):
            self.held += fragment
            return consumed, self._decoded() if self.ended else ""
        self.streamed = True
        return consumed, fragment

    def _decoded(self) -> str:
        try:
            value = json.loads(self.held)
        except (ValueError, RecursionError):
            return self.held
        return value if isinstance(value, str) else self.held


@dataclass
class _CallObject:
    """One ``{"name": ..., "arguments": ...}`` being read."""

    raw: str = ""
    end: _JsonEnd = field(default_factory=_JsonEnd)
    name: str | None = None
    arguments: _ArgumentsStream | None = None
    _arguments_read: int = 0  # how much of ``raw`` the arguments stream has seen
    ended: bool = False

    def take(self, text: str) -> tuple[int, list[tuple[str, str]]]:
        """How much of ``text`` the object takes, and what became known: ("name", ...), ("arguments", ...)."""
        consumed = len(text)
        for offset, char in enumerate(text):
            if self.end.take(char):
                consumed, self.ended = offset + 1, True
                break
        self.raw += text[:consumed]
        news: list[tuple[str, str]] = []
        if self.name is None:
            head = _HEAD.match(self.raw)
            if head:
                self.name, self.arguments, self._arguments_read = _unquoted(head[1]), _ArgumentsStream(), head.end()
                news.append(("name", self.name))
        if self.arguments is not None and not self.arguments.ended:
            read, fragment = self.arguments.take(self.raw[self._arguments_read :])
            self._arguments_read += read
            if fragment:
                news.append(("arguments", fragment))
        if self.ended and self.name is None:
            call = _call_of(self.raw)
            if call is not None:
                self.name = call[0]
                news += [("name", call[0]), ("arguments", call[1])]
        return consumed, news


_TEXT, _OBJECT, _LIST, _NAME, _NAMED_ARGUMENTS, _CLOSER = "text", "object", "list", "name", "named arguments", "closer"


@dataclass
class ToolCallParser:
    format: ToolCallFormat
    calls: int = 0  # calls announced so far
    _state: str = _TEXT
    _pending: str = ""  # text not read yet
    _answer_began: bool = False  # content that is not blank, or a call, has been seen
    _region: str = ""  # everything read since the marker that began the current call(s)
    _calls_in_region: int = 0
    _list_opened: bool = False
    _object: _CallObject = field(default_factory=_CallObject)
    _arguments: _ArgumentsStream = field(default_factory=_ArgumentsStream)

    def feed(self, text: str) -> list[Piece]:
        self._pending += text
        pieces: list[Piece] = []
        while self._pending and self._step(pieces):
            pass
        return _merged(pieces)

    def finish(self) -> list[Piece]:
        """What was held back, once the text has ended."""
        pieces: list[Piece] = []
        if self._state == _TEXT:
            if not (self.calls and self._pending.isspace()):
                pieces.append(Text(self._pending))
        elif self._state == _CLOSER:
            pass
        elif not self._calls_in_region:
            pieces.append(Text(self._region + self._pending))
        self._pending, self._state = "", _TEXT
        return _merged(pieces)

    def _step(self, pieces: list[Piece]) -> bool:
        """Read what can be read of ``_pending``; False when more text is needed."""
        readers = {
            _TEXT: self._read_text, _OBJECT: self._read_object, _LIST: self._read_list, _NAME: self._read_name,
            _NAMED_ARGUMENTS: self._read_named_arguments, _CLOSER: self._read_closer,
        }  # fmt: skip
        return readers[self._state](pieces)

    def _read_text(self, pieces: list[Piece]) -> bool:
        pending = self._pending
        bare = self.format.bare_opening
        if bare and not self._answer_began:
            stripped = pending.lstrip()
            if not stripped:
                return False
            if stripped.startswith(bare):
                self._begin("", len(pending) - len(stripped), pieces)
                return True
        found = [(pending.find(opener), opener) for opener in self.format.openers if opener in pending]
        if found:
            position, opener = min(found)
            self._begin(opener, position, pieces)
            return True
        keep = max((overlap(pending, opener) for opener in self.format.openers), default=0)
        safe = pending[: len(pending) - keep]
        if safe.isspace() and self._blank_is_held:
            return False  # blank text before or after a call is dropped if nothing else follows
        self._emit_text(safe, pieces)
        self._pending = pending[len(safe) :]
        return False

    @property
    def _blank_is_held(self) -> bool:
        return bool(self.calls) or not self._answer_began

    def _emit_text(self, text: str, pieces: list[Piece]) -> None:
        if text and not (text.isspace() and self._blank_is_held):
            pieces.append(Text(text))
            self._answer_began = self._answer_began or not text.isspace()

    def _begin(self, opener: str, position: int, pieces: list[Piece]) -> None:
        self._emit_text(self._pending[:position], pieces)
        self._pending = self._pending[position + len(opener) :]
        self._region, self._calls_in_region, self._answer_began, self._list_opened = opener, 0, True, False
        if self.format.body == ARRAY:
            self._state = _LIST
        elif self.format.body == NAMED:
            self._state = _NAME
        else:
            self._state, self._object = _OBJECT, _CallObject()

    def _read_object(self, pieces: list[Piece]) -> bool:
        if not self._object.raw:
            stripped = self._pending.lstrip()
            if not stripped:
                self._region += self._pending
                self._pending = ""
                return False
            if not stripped.startswith("{"):
                return self._not_a_call("", pieces)
        consumed, news = self._object.take(self._pending)
        self._region += self._pending[:consumed]
        self._pending = self._pending[consumed:]
        for kind, value in news:
            if kind == "name":
                self._announce(value, pieces)
            else:
                pieces.append(Arguments(self.calls - 1, value))
        if not self._object.ended:
            return False
        if self._object.name is None:
            return self._not_a_call(self._object.raw, pieces)
        self._state = _LIST if self.format.body == ARRAY else self._after_call()
        return True

    def _announce(self, name: str, pieces: list[Piece]) -> None:
        pieces.append(CallStart(self.calls, f"call_{uuid.uuid4().hex[:24]}", name))
        self.calls += 1
        self._calls_in_region += 1

    def _read_list(self, pieces: list[Piece]) -> bool:
        """Around the objects of a list of calls: its ``[``, the commas and its ``]``."""
        stripped = self._pending.lstrip()
        self._region += self._pending[: len(self._pending) - len(stripped)]
        self._pending = stripped
        if not stripped:
            return False
        char = stripped[0]
        if char == "{" and self._list_opened:
            self._state, self._object = _OBJECT, _CallObject()
            return True
        if (char == "[" and not self._list_opened) or (char == "," and self._calls_in_region):
            self._region += char
            self._pending = stripped[1:]
            self._list_opened = True
            return True
        if char == "]" and self._list_opened:
            self._region += char
            self._pending = stripped[1:]
            self._state = self._after_call()
            return True
        return self._not_a_call("", pieces)

    def _read_name(self, pieces: list[Piece]) -> bool:
        """Mistral's ``name[ARGS]{...}``."""
        self._region += self._pending
        self._pending = ""
        name, marker, rest = self._region.partition(ARGUMENTS_MARKER)
        if not marker:
            return False
        opener = self.format.openers[0]
        self._announce(name.removeprefix(opener).strip(), pieces)
        self._region, self._pending = name + marker, rest
        self._state, self._arguments = _NAMED_ARGUMENTS, _ArgumentsStream()
        return True

    def _read_named_arguments(self, pieces: list[Piece]) -> bool:
        consumed, fragment = self._arguments.take(self._pending)
        self._region += self._pending[:consumed]
        self._pending = self._pending[consumed:]
        if fragment:
            pieces.append(Arguments(self.calls - 1, fragment))
        if not self._arguments.ended:
            return False
        self._state = self._after_call()
        return True

    def _after_call(self) -> str:
        return _CLOSER if self.format.closer else _TEXT

    def _read_closer(self, pieces: list[Piece]) -> bool:
        closer = self.format.closer or ""
        stripped = self._pending.lstrip()
        if stripped.startswith(closer):
            self._pending, self._state = stripped[len(closer) :], _TEXT
            return True
        if closer.startswith(stripped):
            return False  # perhaps the closer, still arriving
        self._state = _TEXT  # no closer where one was due: what follows is text again
        return True

    def _not_a_call(self, failed: str, pieces: list[Piece]) -> bool:
        """What was read since the marker was no call: it is text (only the failed part, after calls)."""
        self._emit_text(failed if self._calls_in_region else self._region, pieces)
        self._state, self._region = _TEXT, ""
        if self.format.bare_opening:
            self._answer_began = True
        return True


def _unquoted(text: str) -> str:
    try:
        return cast(str, json.loads(f'"{text}"'))
    except ValueError:
        return text


def _call_of(text: str) -> tuple[str, str] | None:
    """The name and arguments (as JSON text) of a whole call object; None if ``text`` is not one."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    return value["name"], arguments if isinstance(arguments, str) else json.dumps(arguments)


def _merged(pieces: list[Piece]) -> list[Piece]:
    """Neighbouring text (or fragments of one call's arguments) as one piece; empty ones left out."""
    merged: list[Piece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if isinstance(piece, Text):
            if not piece.text:
                continue
            if isinstance(last, Text):
                merged[-1] = Text(last.text + piece.text)
                continue
        elif isinstance(piece, Arguments):
            if not piece.fragment:
                continue
            if isinstance(last, Arguments) and last.index == piece.index:
                merged[-1] = Arguments(piece.index, last.fragment + piece.fragment)
                continue
        merged.append(piece)
    return merged
