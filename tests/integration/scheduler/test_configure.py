"""Configure against a real runner and llama-server: every value checked before anything is stored,
and a new configuration that waits for the streams in flight instead of cutting them off."""

import json
import threading
import time

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, proc_dir

pytestmark = pytest.mark.model
ON_LLAMA_SERVER = pytest.mark.parametrize("backend", ["llama-server"], indirect=True)
# Refusals change nothing, so their tests share one runner
SHARED_ON_LLAMA_SERVER = pytest.mark.parametrize("shared_runner", ["llama-server"], indirect=True)

TRAINED_CONTEXT = 8192  # SmolLM2's llama.context_length


def configure(runner, **body) -> httpx.Response:
    return httpx.post(f"{runner.url}/engines/_configure", json={"model": LOCAL_MODEL_TAG, **body}, headers=runner.manage, timeout=60)


def stored_configuration(runner) -> dict:
    [entry] = httpx.get(f"{runner.url}/engines/_configure", params={"model": LOCAL_MODEL_TAG}, timeout=10).json()
    return entry["Config"]


def engine_context_size(pid: int) -> int:
    """The ``--ctx-size`` the engine process was started with."""
    argv = (proc_dir() / str(pid) / "cmdline").read_bytes().decode().split("\0")
    return int(argv[argv.index("--ctx-size") + 1])


@SHARED_ON_LLAMA_SERVER
def test_invalid_values_get_a_400_naming_the_flag_and_change_nothing(shared_runner) -> None:
    runner = shared_runner
    assert configure(runner, **{"context-size": 2048, "runtime-flags": ["--temp", "0.5"]}).status_code == 202
    assert runner.complete().status_code == 200
    [engine] = runner.engine_pids()
    refusals = [
        ({"runtime-flags": ["--temp", "nan"]}, "'--temp' has an invalid value 'nan': expected a finite number"),
        ({"runtime-flags": ["--top-p", "inf"]}, "'--top-p' has an invalid value 'inf': expected a finite number from 0 to 1"),
        ({"runtime-flags": ["--min-p", "2"]}, "'--min-p' has an invalid value '2': expected a finite number from 0 to 1"),
        ({"runtime-flags": ["--parallel", "1000"]}, "'--parallel' has an invalid value '1000': expected an integer from 1 to 64"),
        ({"runtime-flags": ["--threads", "100000"]}, "'--threads' has an invalid value '100000': expected an integer from 1 to 256"),
        ({"runtime-flags": ["--ctx-size", "100000"]}, f"'--ctx-size': 100000 is out of range: use between 64 and {TRAINED_CONTEXT}"),
        ({"context-size": 100000}, f"context-size: 100000 is out of range: use between 64 and {TRAINED_CONTEXT}"),
        ({"keep_alive": "nan"}, "keep_alive"),
    ]  # fmt: skip
    for body, message in refusals:
        refused = configure(runner, **body)
        assert refused.status_code == 400, (body, refused.status_code, refused.text)
        assert refused.headers["content-type"].startswith("text/plain")  # Docker Model Runner's error shape
        assert message in refused.text, refused.text
    assert stored_configuration(runner) == {"context-size": 2048, "runtime-flags": ["--temp", "0.5"]}
    assert runner.complete().status_code == 200
    assert runner.engine_pids() == [engine] and engine_context_size(engine) == 2048


@SHARED_ON_LLAMA_SERVER
def test_the_cli_says_which_value_is_wrong_and_fails(shared_runner) -> None:
    runner = shared_runner
    before = stored_configuration(runner)
    for arguments, message in [
        (["--", "--temp", "nan"], "runtime flag '--temp' has an invalid value 'nan': expected a finite number"),
        (["--", "--top-p", "inf"], "runtime flag '--top-p' has an invalid value 'inf'"),
        (["--context-size", "100000"], f"context-size: 100000 is out of range: use between 64 and {TRAINED_CONTEXT}"),
    ]:
        result = runner.cli("configure", LOCAL_MODEL_TAG, *arguments, check=False)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert stored_configuration(runner) == before


@ON_LLAMA_SERVER
def test_a_new_configuration_waits_for_the_stream_in_flight_then_serves_from_a_new_engine(start_runner) -> None:
    runner = start_runner()
    max_tokens = stream_length_for(runner, seconds=12)
    body = {"model": LOCAL_MODEL_TAG, "prompt": "Once upon a time", "max_tokens": max_tokens, "stream": True,
            "temperature": 1.0, "ignore_eos": True, "stream_options": {"include_usage": True}}  # fmt: skip
    after: dict[str, object] = {}

    def request_after_configure() -> None:
        try:
            # short: what counts is that it waits for the stream, not how long it is
            later_body = {**body, "stream": False, "stream_options": None, "max_tokens": 4}
            response = httpx.post(f"{runner.url}/engines/v1/completions", json=later_body, timeout=600)
            after["status"], after["answered"] = response.status_code, time.monotonic()
        except httpx.HTTPError as error:
            after["error"] = repr(error)

    events = []
    with httpx.stream("POST", f"{runner.url}/engines/v1/completions", json=body, timeout=600) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("data: "):
                events.append(line)
                if len(events) == 2:
                    break
        [old_engine] = runner.engine_pids()
        assert engine_context_size(old_engine) == TRAINED_CONTEXT
        accepted = configure(runner, **{"context-size": 2048})
        assert accepted.status_code == 202, accepted.text
        later = threading.Thread(target=request_after_configure)
        later.start()
        time.sleep(2)  # the stream is read slowly: the later request must wait for it, not cut it off
        assert not after and runner.engine_pids() == [old_engine]
        for line in lines:
            if line.startswith("data: "):
                events.append(line)
        stream_ended = time.monotonic()
    later.join(600)
    assert events.pop() == "data: [DONE]"
    assert not any('"error"' in event for event in events), events[-3:]
    chunks = [json.loads(event.removeprefix("data: ")) for event in events]
    choices = [chunk["choices"][0] for chunk in chunks if chunk.get("choices")]
    assert [choice["finish_reason"] for choice in choices if choice["finish_reason"]] == ["length"]
    # The whole answer. (Chunks are not tokens: a token that ends inside a UTF-8 character waits for the next.)
    assert [chunk["usage"]["completion_tokens"] for chunk in chunks if chunk.get("usage")][-1] == max_tokens
    assert after.get("status") == 200 and after["answered"] > stream_ended, after
    [new_engine] = runner.engine_pids()
    assert new_engine != old_engine and engine_context_size(new_engine) == 2048
    assert stored_configuration(runner) == {"context-size": 2048}


def stream_length_for(runner, seconds: float) -> int:
    """How many tokens this machine generates in about ``seconds``: the stream must still be running when
    the configure comes, on a fast machine as on a busy shared one (where SmolLM2 can fall to 1 token/s)."""
    assert runner.complete().status_code == 200  # the engine is loaded before the timing
    started = time.monotonic()
    assert runner.complete(max_tokens=32, ignore_eos=True).status_code == 200
    per_second = 32 / (time.monotonic() - started)
    return max(20, min(4000, int(per_second * seconds)))
