"""Interpolation: Compose's rules by example, its error texts, and properties that hold for any text."""

from __future__ import annotations

import pytest

from compose_models.compose.interpolation import (
    InvalidTemplate,
    MissingRequiredVariable,
    interpolation_message,
    substitute,
)
from tests.conftest import require

try:
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - the property tests below then fail in CI, skip elsewhere
    given = None

ENV = {"SET": "value", "EMPTY": "", "B": "bee", "lower": "low"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("plain text", "plain text"),
        ("$SET and ${SET}", "value and value"),
        ("${UNSET}|$UNSET", "|"),
        ("${UNSET:-d}|${EMPTY:-d}|${SET:-d}", "d|d|value"),
        ("${UNSET-d}|${EMPTY-d}|${SET-d}", "d||value"),
        ("${UNSET:+a}|${EMPTY:+a}|${SET:+a}", "||a"),
        ("${UNSET+a}|${EMPTY+a}|${SET+a}", "|a|a"),
        ("${SET?}|${EMPTY?}", "value|"),
        ("${UNSET:-${B:-x}}", "bee"),
        ("${UNSET:-${ALSO_UNSET:-inner}}", "inner"),
        ("$$SET $${SET} $$$$", "$SET ${SET} $$"),
        ("$1 a$ $-x", "$1 a$ $-x"),
        ("${UNSET-{x}y}z", "{x}yz"),
        ("${SET:-x}y}", "valuey}"),
        ("${lower}$lower", "lowlow"),
        ("${SET-a:-b}", "value"),
    ],
)
def test_compose_rules(template, expected):
    assert substitute(template, ENV.get) == expected


def test_required_errors_use_compose_wording():
    with pytest.raises(MissingRequiredVariable) as caught:
        substitute("${MODEL:?set it in .env}", ENV.get)
    assert str(caught.value) == "required variable MODEL is missing a value: set it in .env"
    with pytest.raises(MissingRequiredVariable) as caught:
        substitute("${EMPTY:?}", ENV.get)
    assert str(caught.value) == "required variable EMPTY is missing a value"
    with pytest.raises(MissingRequiredVariable):  # Compose interpolates defaults eagerly
        substitute("${SET:-${UNSET:?boom}}", ENV.get)


@pytest.mark.parametrize("template", ["${", "ai/${MODEL", "${9}", "${ A}", "${A}${"])
def test_invalid_templates(template):
    with pytest.raises(InvalidTemplate) as caught:
        substitute(template, ENV.get)
    message = interpolation_message(("models", "llm", "model"), caught.value)
    assert message.startswith("invalid interpolation format for models.llm.model.")
    assert "\n" not in message


def test_list_items_are_named_like_compose():
    error = MissingRequiredVariable("X", "")
    assert interpolation_message(("services", "app", "environment", 0), error) == (
        "error while interpolating services.app.environment.[]: required variable X is missing a value"
    )


def _needs_hypothesis() -> None:
    require(given is not None, "hypothesis is not installed (pip install hypothesis)")


if given is not None:
    plain_text = st.text(alphabet=st.characters(blacklist_characters="$", blacklist_categories=("Cs",)))
    any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))
    default_text = st.text(alphabet=st.characters(blacklist_characters="${}\n", blacklist_categories=("Cs",)))
    names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)

    @given(plain_text)
    def test_text_without_dollar_is_unchanged(text):
        assert substitute(text, ENV.get) == text

    @given(any_text)
    def test_escaped_dollars_round_trip(text):
        assert substitute(text.replace("$", "$$"), ENV.get) == text

    @given(names, default_text)
    def test_defaults_apply_only_when_unset_or_empty(name, default):
        assert substitute(f"${{{name}:-{default}}}", {}.get) == default
        assert substitute(f"${{{name}-{default}}}", {}.get) == default
        assert substitute(f"${{{name}-{default}}}", {name: ""}.get) == ""
        assert substitute(f"${{{name}:-{default}}}", {name: "set"}.get) == "set"

    @given(names, default_text, st.text(min_size=1, alphabet=st.characters(blacklist_categories=("Cs",))))
    def test_alternates_apply_only_when_set(name, alternate, value):
        assert substitute(f"${{{name}:+{alternate}}}", {name: value}.get) == alternate
        assert substitute(f"${{{name}+{alternate}}}", {}.get) == ""
else:

    def test_property_tests_need_hypothesis():
        _needs_hypothesis()
