"""The decode loop on the real model, without HTTP: a long prompt is prefilled in chunks between the
running sequences' steps instead of stalling them. llama.cpp runs in-process here, so in a child process."""

import threading
from pathlib import Path

import pytest

from compose_models.runner.backends.batched import decoder, model
from compose_models.runner.backends.batched.sampling import Sampling
from tests.child_process import in_child_process

pytestmark = pytest.mark.model


@in_child_process
def test_a_long_prompt_is_prefilled_in_chunks_between_the_running_decodes(smollm2_gguf: Path) -> None:
    loaded = model.load(smollm2_gguf, 4096, 2, 1, None)
    loop = decoder.Decoder(loaded.context.ctx, loaded.vocab, 2, loaded.context_size, model.BATCH_SIZE)
    events: list[tuple[str, decoder.Event]] = []
    lock = threading.Lock()
    finished = {"short": threading.Event(), "long": threading.Event()}
    started = threading.Event()

    def recorder(name: str):
        def emit(event: decoder.Event) -> None:
            with lock:
                events.append((name, event))
            started.set()
            if isinstance(event, decoder.Finished):
                finished[name].set()

        return emit

    greedy = Sampling(temperature=0, ignore_eos=True)
    try:
        loop.submit(decoder.Job(loaded.tokenize("Once upon a time", add_bos=True), greedy, 40, recorder("short")))
        started.wait(60)
        long_prompt = loaded.tokenize("The lighthouse keeper counted the waves. " * 150, add_bos=True)
        assert len(long_prompt) > 2 * model.BATCH_SIZE
        with lock:
            events.append(("long submitted", decoder.Finished("")))
        loop.submit(decoder.Job(long_prompt, greedy, 2, recorder("long")))
        assert finished["short"].wait(120) and finished["long"].wait(120)
    finally:
        loop.close()
    names = [name for name, event in events if isinstance(event, decoder.Token) or name == "long submitted"]
    while_prefilling = names[names.index("long submitted") : names.index("long")]
    # The prompt took at least 3 steps of up to 512 tokens; the short sequence got a token in each.
    assert while_prefilling.count("short") >= 2
