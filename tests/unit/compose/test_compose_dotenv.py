"""``.env`` parsing as compose-go's dotenv does it."""

from __future__ import annotations

import pytest

from compose_models.compose.dotenv import parse_env
from compose_models.errors import UserError


def test_forms_quotes_comments_and_interpolation():
    text = (
        "# comment\n"
        "export A=1\n"
        "B: yaml-style\n"
        "C=${A}-${UNSET:-d}  # inline comment\n"
        "D='${A} literal'\n"
        'E="tab\\there \\$A $$A ${A}"\n'
        "F=a#b\n"
        "G=\n"
        'H="multi\nline"\n'
        "INHERITED\n"
        "MISSING_INHERITED\n"
    )
    assert parse_env(text, {"INHERITED": "from-shell"}) == {
        "A": "1",
        "B": "yaml-style",
        "C": "1-d",
        "D": "${A} literal",
        "E": "tab\there $A $A 1",
        "F": "a#b",
        "G": "",
        "H": "multi\nline",
        "INHERITED": "from-shell",
    }


def test_lookup_environment_comes_before_earlier_keys():
    assert parse_env("A=file\nB=${A}\n", {"A": "shell"})["B"] == "shell"


@pytest.mark.parametrize(("text", "line"), [("A=1\nB C=2\n", 2), ("A='open\n", 1), ("A=1\n'x'=2\n", 2)])
def test_errors_name_file_and_line(text, line):
    with pytest.raises(UserError) as caught:
        parse_env(text, {}, "/p/.env")
    assert str(caught.value).startswith(f"/p/.env:{line}: ")
