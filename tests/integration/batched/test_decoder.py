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


@in_child_process
def test_a_failing_step_ends_its_jobs_with_an_error_and_the_loop_serves_the_next(smollm2_gguf: Path) -> None:
    import llama_cpp

    loaded = model.load(smollm2_gguf, 1024, 2, 1, None)
    real_decode, submitted, failed = llama_cpp.llama_decode, threading.Event(), threading.Event()

    def decode_failing_once_both_run(context, batch):  # the test's fault; the engine ships none
        submitted.wait(60)  # so that the second job is admitted while the first still runs
        if len({batch.seq_id[index][0] for index in range(batch.n_tokens)}) == 2 and not failed.is_set():
            failed.set()
            raise RuntimeError("injected fault")
        return real_decode(context, batch)

    llama_cpp.llama_decode = decode_failing_once_both_run  # in this child process only
    loop = decoder.Decoder(loaded.context.ctx, loaded.vocab, 2, loaded.context_size, model.BATCH_SIZE)
    greedy = Sampling(temperature=0, ignore_eos=True)
    ended: dict[str, decoder.Finished] = {}
    done = {name: threading.Event() for name in ("first", "second", "after")}

    def recorder(name: str):
        def emit(event: decoder.Event) -> None:
            if isinstance(event, decoder.Finished):
                ended[name] = event
                done[name].set()

        return emit

    prompt = loaded.tokenize("Once upon a time", add_bos=True)
    try:
        loop.submit(decoder.Job(prompt, greedy, 20, recorder("first")))
        loop.submit(decoder.Job(prompt, greedy, 20, recorder("second")))
        submitted.set()
        assert done["first"].wait(60) and done["second"].wait(60)
        loop.submit(decoder.Job(prompt, greedy, 3, recorder("after")))
        assert done["after"].wait(60)
    finally:
        loop.close()
    assert ended["first"] == ended["second"] == decoder.Finished("error", "the engine failed while generating: injected fault")
    assert failed.is_set() and ended["after"] == decoder.Finished("length")
