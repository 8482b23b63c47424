"""The runner's timeouts, as read from the environment, and the bound on a stream's sends."""

import asyncio

import pytest
from starlette.background import BackgroundTask

from compose_models.errors import UserError
from compose_models.runner.http.streams import BoundedStreamingResponse
from compose_models.runner.scheduling.settings import Timeouts


def test_timeouts_have_defaults_and_take_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Timeouts.from_environment() == Timeouts(engine_connect=10.0, engine_read=600.0, send=60.0)
    monkeypatch.setenv("COMPOSE_MODELS_ENGINE_READ_TIMEOUT", "2m")
    monkeypatch.setenv("COMPOSE_MODELS_ENGINE_CONNECT_TIMEOUT", "2.5")
    monkeypatch.setenv("COMPOSE_MODELS_SEND_TIMEOUT", "30s")
    assert Timeouts.from_environment() == Timeouts(engine_connect=2.5, engine_read=120.0, send=30.0)


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "soon"])
def test_a_timeout_that_is_not_a_positive_duration_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_SEND_TIMEOUT", value)
    with pytest.raises(UserError, match="COMPOSE_MODELS_SEND_TIMEOUT"):
        Timeouts.from_environment()


@pytest.mark.parametrize("variable", ["COMPOSE_MODELS_PIN_GRACE", "COMPOSE_MODELS_PROJECT_CHECK_INTERVAL"])
def test_the_pins_durations_are_read_as_the_timeouts_are(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    from compose_models.runner.scheduling import pins

    assert (pins.grace(), pins.check_interval()) == (600.0, 30.0)
    monkeypatch.setenv(variable, "2m")
    assert 120.0 in (pins.grace(), pins.check_interval())
    monkeypatch.setenv(variable, "inf")
    with pytest.raises(UserError, match=f"{variable}: "):
        pins.grace() if variable.endswith("GRACE") else pins.check_interval()


def test_a_stream_whose_client_stops_taking_chunks_is_closed_and_released(capsys: pytest.CaptureFixture[str]) -> None:
    events: list[str] = []

    async def body():
        try:
            for number in range(1000):
                yield f"chunk {number}\n"
        finally:
            events.append("body closed")

    async def release() -> None:
        events.append("released")

    async def send(message) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            await asyncio.Event().wait()  # a client whose socket is full: this send never completes

    async def receive():
        await asyncio.Event().wait()  # and it never hangs up

    response = BoundedStreamingResponse(body(), send_timeout=0.2, background=BackgroundTask(release))
    scope = {"type": "http", "path": "/engines/v1/chat/completions", "client": ("127.0.0.1", 5000)}
    asyncio.run(asyncio.wait_for(response(scope, receive, send), timeout=10))
    assert events == ["body closed", "released"]
    assert "127.0.0.1:5000 left /engines/v1/chat/completions's stream unread for 0.2s" in capsys.readouterr().err
