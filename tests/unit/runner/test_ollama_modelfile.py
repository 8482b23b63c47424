"""The Modelfile strings and parameters ``/api/create`` accepts, and the errors it gives for the rest."""

import pytest

from compose_models.runner.api.ollama.create import parse_modelfile
from compose_models.runner.api.ollama.translation import checked_parameters, parameters_text
from compose_models.runner.http.errors import ApiError


def test_a_modelfile_is_read_as_ollama_reads_it() -> None:
    parsed = parse_modelfile(
        '# a comment\n\nfrom ai/smollm2\nPARAMETER temperature 0.2\nPARAMETER stop "<|im_end|>"\nPARAMETER stop User:\n'
        'SYSTEM """You are\na pirate."""\nTemplate {{ .Prompt }}\nLICENSE MIT\n'
        'MESSAGE user Hi\nMESSAGE assistant "Arr"\n'
    )
    assert parsed.base == "ai/smollm2" and parsed.system == "You are\na pirate." and parsed.template == "{{ .Prompt }}"
    assert parsed.parameters == {"temperature": "0.2", "stop": ["<|im_end|>", "User:"]} and parsed.licenses == ["MIT"]
    assert parsed.messages == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Arr"}]


@pytest.mark.parametrize(("modelfile", "problem"), [
    ("FROM a\nADAPTER ./lora.gguf\n", "modelfile line 2: ADAPTER is not supported here"),
    ('FROM a\n\nSYSTEM """never closed\n', 'modelfile line 3: the value opened with """ is never closed'),
    ("FROM a\nPARAMETER\n", "modelfile line 2: expected a parameter name"),
    ('FROM a\nSYSTEM "x" y\n', "modelfile line 2: unexpected text after the value"),
    ("FROM a\nMESSAGE robot hi\n", "modelfile line 2: MESSAGE role 'robot'"),
    ("SYSTEM hi\n", "modelfile: no FROM line"),
])  # fmt: skip
def test_what_is_not_understood_is_refused_naming_its_line(modelfile: str, problem: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_modelfile(modelfile)
    assert refused.value.status == 400 and refused.value.message.startswith(problem)


def test_parameters_are_typed_and_shown_as_ollama_shows_them() -> None:
    checked = checked_parameters({"top_k": "40", "temperature": 1, "stop": "###", "use_mmap": "false"}, "parameters")
    assert checked == {"stop": ["###"], "temperature": 1.0, "top_k": 40, "use_mmap": False}
    assert parameters_text(checked).splitlines()[0] == f"{'stop':<30} \"###\""
    for given, problem in (({"top_k": "many"}, "parameter 'top_k' must be an integer"),
                           ({"temperature": "nan"}, "parameter 'temperature' must be a number"),
                           ({"colour": 1}, "unknown parameter 'colour'")):  # fmt: skip
        with pytest.raises(ApiError) as refused:
            checked_parameters(given, "parameters")
        assert problem in refused.value.message
