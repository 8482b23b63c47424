"""Continuous batching over one llama.cpp context: ``n_seq_max`` slots, a queue behind them.

A thread runs the decode loop. Each step builds one ``llama_batch`` holding the next token of
every generating slot and then chunks of the prompts being prefilled (so a long prompt shares
steps with the running decodes instead of stalling them), decodes it, and samples each slot that
got logits with its own native sampler chain. Finished or cancelled jobs leave their slot at once;
the slot keeps its KV cells so that a later prompt starting with the same tokens (a system
prompt, the earlier turns of a chat) is prefilled only from where it differs.

A job that cannot start (its sampler cannot be made) or a step that raises ends the jobs it concerns
with ``Finished("error")`` and a message, and the loop goes on serving the others: an exception
never ends the thread, which would leave every request waiting until its client gave up.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import llama_cpp
import numpy as np

from compose_models.runner.backends.batched.logprobs import token_logprobs
from compose_models.runner.backends.batched.sampling import BadSampling, Sampling, sampler_chain


@dataclass(frozen=True)
class Token:
    id: int
    logprob: float | None = None  # set when the job asked for log-probabilities
    top_logprobs: tuple[tuple[int, float], ...] = ()  # (token id, logprob), most likely first


@dataclass(frozen=True)
class Finished:
    reason: str  # "stop" (end of generation), "length" (max_tokens or context full), "error"
    error: str = ""  # with "error": what went wrong, for the client
    client_error: bool = False  # with "error": the request was at fault (a 400), not the engine (a 500)


Event = Token | Finished


@dataclass(eq=False)
class Job:
    prompt: list[int]
    sampling: Sampling
    max_tokens: int
    emit: Callable[[Event], object]  # called on the decode thread; must not block
    top_logprobs: int | None = None  # None: no log-probabilities; else how many alternatives with each token
    cancelled: bool = False
    reused_tokens: int = 0  # prompt tokens found in the slot's KV cells, set on admission


@dataclass(eq=False)
class _Slot:
    seq_id: int
    cached: list[int] = field(default_factory=list)  # tokens whose KV cells this sequence holds
    job: Job | None = None
    unprefilled: list[int] = field(default_factory=list)
    next_token: int | None = None  # sampled, to be decoded in the next step
    generated: int = 0
    sampler: llama_cpp.llama_sampler_p | None = None
    logits_index: int = -1


def common_prefix_length(first: list[int], second: list[int]) -> int:
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


class Decoder:
    def __init__(self, context: llama_cpp.llama_context_p, vocab: llama_cpp.llama_vocab_p, slots: int,
                 context_size: int, batch_size: int) -> None:  # fmt: skip
        self._context = context
        self._memory = llama_cpp.llama_get_memory(context)
        self._vocab = vocab
        self._vocab_size = llama_cpp.llama_vocab_n_tokens(vocab)
        self._context_size = context_size
        self._batch_size = batch_size
        self._batch = llama_cpp.llama_batch_init(batch_size, 0, 1)
        self._slots = [_Slot(seq_id) for seq_id in range(slots)]
        self._queue: deque[Job] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="batched-decoder", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        with self._wake:
            self._queue.append(job)
            self._wake.notify()

    def cancel(self, job: Job) -> None:
        """Free the job's slot (or its place in the queue) at the next step."""
        with self._wake:
            job.cancelled = True
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        llama_cpp.llama_batch_free(self._batch)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._has_work():
                    self._wake.wait()
                if self._closed:
                    return
                self._leave_cancelled()
                self._admit()
            if any(slot.job for slot in self._slots):
                try:
                    self._step()
                except Exception as error:  # noqa: BLE001 - the jobs in the step get it; the loop goes on
                    self._fail_running(error)

    def _has_work(self) -> bool:
        return bool(self._queue) or any(slot.job for slot in self._slots)

    def _leave_cancelled(self) -> None:
        self._queue = deque(job for job in self._queue if not job.cancelled)
        for slot in self._slots:
            if slot.job and slot.job.cancelled:
                self._leave(slot, None)

    def _admit(self) -> None:
        """Queued jobs into free slots, each into the slot whose cached tokens share most of its prompt."""
        while self._queue:
            free = [slot for slot in self._slots if slot.job is None]
            if not free:
                return
            job = self._queue.popleft()
            try:
                sampler = sampler_chain(job.sampling, self._vocab)
            except Exception as error:  # noqa: BLE001 - this job gets it; the others are admitted
                job.emit(Finished("error", str(error), client_error=isinstance(error, BadSampling)))
                continue
            slot = max(free, key=lambda candidate: common_prefix_length(candidate.cached, job.prompt))
            # At least the last prompt token is decoded again: its logits give the first new token.
            reused = min(common_prefix_length(slot.cached, job.prompt), len(job.prompt) - 1)
            llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, reused, -1)
            slot.cached = job.prompt[:reused]
            slot.unprefilled = job.prompt[reused:]
            job.reused_tokens = reused
            slot.job, slot.generated, slot.next_token = job, 0, None
            slot.sampler = sampler

    def _step(self) -> None:
        batch = self._batch
        batch.n_tokens = 0
        placed: list[tuple[_Slot, list[int], bool]] = []  # slot, its tokens, whether they are prompt
        for slot in self._slots:
            if slot.job and slot.next_token is not None:
                slot.logits_index = self._add(slot, [slot.next_token], logits_last=True)
                placed.append((slot, [slot.next_token], False))
        for slot in self._slots:
            room = self._batch_size - batch.n_tokens
            if slot.job and slot.unprefilled and room > 0:
                chunk = slot.unprefilled[:room]
                completes_prompt = len(chunk) == len(slot.unprefilled)
                index = self._add(slot, chunk, logits_last=completes_prompt)
                slot.logits_index = index if completes_prompt else -1
                placed.append((slot, chunk, True))
        if not placed:
            return
        status = llama_cpp.llama_decode(self._context, batch)
        if status == 1 and self._evict_idle_caches():
            status = llama_cpp.llama_decode(self._context, batch)
        if status != 0:
            for slot, _, _ in placed:
                llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, len(slot.cached), -1)
                self._leave(slot, "length" if status == 1 else "error", f"llama_decode returned {status}")
            return
        for slot, tokens, is_prompt in placed:
            slot.cached += tokens
            slot.next_token = None
            if is_prompt:
                del slot.unprefilled[: len(tokens)]
            if slot.logits_index >= 0:
                self._sample(slot)

    def _add(self, slot: _Slot, tokens: list[int], logits_last: bool) -> int:
        """Append ``tokens`` of ``slot`` to the batch; the batch index of the last one."""
        batch = self._batch
        position = len(slot.cached)
        for offset, token in enumerate(tokens):
            index = batch.n_tokens
            batch.token[index] = token
            batch.pos[index] = position + offset
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = slot.seq_id
            batch.logits[index] = logits_last and offset == len(tokens) - 1
            batch.n_tokens += 1
        return cast(int, batch.n_tokens - 1)

    def _sample(self, slot: _Slot) -> None:
        assert slot.job is not None and slot.sampler is not None
        index, slot.logits_index = slot.logits_index, -1
        token = llama_cpp.llama_sampler_sample(slot.sampler, self._context, index)
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            self._leave(slot, "stop")
            return
        slot.generated += 1
        slot.job.emit(self._token(token, slot.job.top_logprobs, index))
        if slot.generated >= slot.job.max_tokens or len(slot.cached) + 1 >= self._context_size:
            self._leave(slot, "length")
        else:
            slot.next_token = token

    def _token(self, token: int, top_logprobs: int | None, logits_index: int) -> Token:
        if top_logprobs is None:
            return Token(token)
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._context, logits_index), shape=(self._vocab_size,))
        return Token(token, *token_logprobs(logits, token, top_logprobs))

    def _leave(self, slot: _Slot, reason: str | None, error: str = "") -> None:
        """Free the slot; tell the job why unless it was cancelled (``reason`` None)."""
        job = slot.job
        assert job is not None
        if slot.sampler is not None:
            llama_cpp.llama_sampler_free(slot.sampler)
        slot.job, slot.sampler, slot.next_token, slot.unprefilled = None, None, None, []
        if reason is not None:
            job.emit(Finished(reason, error))

    def _fail_running(self, error: Exception) -> None:
        """End every running job with ``error``; their slots' KV cells are dropped, as a failed step may
        have left them half written."""
        print("the batched engine's decode step failed:", file=sys.stderr)
        traceback.print_exception(error, file=sys.stderr)
        for slot in self._slots:
            if slot.job is not None:
                llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, 0, -1)
                slot.cached = []
                self._leave(slot, "error", f"the engine failed while generating: {error}")

    def _evict_idle_caches(self) -> bool:
        """Drop the KV cells of slots without a job to make room; whether any were dropped."""
        evicted = False
        for slot in self._slots:
            if slot.job is None and slot.cached:
                llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, 0, -1)
                slot.cached = []
                evicted = True
        return evicted


def piece(vocab: llama_cpp.llama_vocab_p, token: int) -> bytes:
    """The bytes of one generated token (special tokens render as nothing)."""
    buffer = ctypes.create_string_buffer(64)
    length = llama_cpp.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, False)
    if length < 0:
        buffer = ctypes.create_string_buffer(-length)
        length = llama_cpp.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, False)
    return buffer.raw[:length]
