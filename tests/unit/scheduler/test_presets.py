"""Presets: named runtime-flag sets that explicit flags override, all on the allow-list."""

import pytest

from compose_models.errors import UserError
from compose_models.runner.configuration.presets import PRESETS, with_preset
from compose_models.runner.configuration.runtime_flags import LLAMA_CPP_PYTHON, LLAMA_SERVER, parse_runtime_flags


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("backend", [LLAMA_SERVER, LLAMA_CPP_PYTHON])
def test_every_preset_passes_the_allow_list(name: str, backend: str) -> None:
    parse_runtime_flags(with_preset(name, []), backend)


def test_explicit_flags_override_the_preset() -> None:
    options = parse_runtime_flags(with_preset("code", ["--temp", "0.5"]))
    assert options.sampling_defaults["temperature"] == 0.5


def test_long_context_sets_the_context_size() -> None:
    assert parse_runtime_flags(with_preset("long-context", [])).context_size == 32768


def test_an_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="chat, code, creative, long-context"):
        with_preset("fast", [])
