"""A request's sampling settings and the native llama.cpp sampler chain they stand for.

Defaults and chain order are llama-server's (penalties, top-k, top-p, min-p, temperature, then a
seeded draw), so a request samples the same way on either engine. Temperature 0 is greedy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import llama_cpp

RANDOM_SEED = llama_cpp.LLAMA_DEFAULT_SEED


class BadSampling(ValueError):
    """Settings of a request that make no sampler (a grammar llama.cpp cannot parse)."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    penalty_last_n: int = 64
    seed: int = RANDOM_SEED
    grammar: str | None = None  # GBNF whose root rule is ``root``
    ignore_eos: bool = False  # llama-server's extension: generate until max_tokens

    @classmethod
    def from_request(cls, body: dict[str, Any], grammar: str | None = None) -> Sampling:
        defaults = cls()

        def number(key: str, default: float) -> float:
            value = body.get(key)
            return default if value is None else float(value)

        seed = body.get("seed")
        return cls(
            temperature=number("temperature", defaults.temperature),
            top_k=int(number("top_k", defaults.top_k)),
            top_p=number("top_p", defaults.top_p),
            min_p=number("min_p", defaults.min_p),
            repeat_penalty=number("repeat_penalty", defaults.repeat_penalty),
            presence_penalty=number("presence_penalty", defaults.presence_penalty),
            frequency_penalty=number("frequency_penalty", defaults.frequency_penalty),
            seed=RANDOM_SEED if seed is None else int(seed) & 0xFFFFFFFF,
            grammar=grammar,
            ignore_eos=bool(body.get("ignore_eos")),
        )

    def penalises(self) -> bool:
        return self.repeat_penalty != 1.0 or self.presence_penalty != 0.0 or self.frequency_penalty != 0.0


def sampler_chain(sampling: Sampling, vocab: llama_cpp.llama_vocab_p) -> llama_cpp.llama_sampler_p:
    """A new chain the caller owns (``llama_sampler_free``); ``llama_sampler_sample`` also accepts the token."""
    stages = []
    if sampling.grammar is not None:
        grammar = llama_cpp.llama_sampler_init_grammar(vocab, sampling.grammar.encode(), b"root")
        if not grammar:  # NULL: added to a chain, it would crash the engine at the first token
            raise BadSampling("response_format: llama.cpp cannot parse the grammar made of its schema (an empty enum or anyOf?)")
        stages.append(grammar)
    if sampling.ignore_eos:
        stages.append(_forbidding(end_of_generation_tokens(vocab), vocab))
    if sampling.penalises():
        stages.append(
            llama_cpp.llama_sampler_init_penalties(
                llama_cpp.llama_vocab_n_tokens(vocab), sampling.penalty_last_n, sampling.repeat_penalty,
                sampling.frequency_penalty, sampling.presence_penalty,
            )  # fmt: skip
        )
    if sampling.temperature <= 0:
        stages.append(llama_cpp.llama_sampler_init_greedy())
    else:
        if sampling.top_k > 0:
            stages.append(llama_cpp.llama_sampler_init_top_k(sampling.top_k))
        stages.append(llama_cpp.llama_sampler_init_top_p(sampling.top_p, 1))
        stages.append(llama_cpp.llama_sampler_init_min_p(sampling.min_p, 1))
        stages.append(llama_cpp.llama_sampler_init_temp(sampling.temperature))
        stages.append(llama_cpp.llama_sampler_init_dist(sampling.seed))
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    for stage in stages:
        llama_cpp.llama_sampler_chain_add(chain, stage)  # the chain owns its stages
    return cast("llama_cpp.llama_sampler_p", chain)


@cache
def end_of_generation_tokens(vocab: llama_cpp.llama_vocab_p) -> tuple[int, ...]:
    return tuple(t for t in range(llama_cpp.llama_vocab_n_tokens(vocab)) if llama_cpp.llama_vocab_is_eog(vocab, t))


def _forbidding(tokens: tuple[int, ...], vocab: llama_cpp.llama_vocab_p) -> llama_cpp.llama_sampler_p:
    biases = (llama_cpp.llama_logit_bias * len(tokens))(*(llama_cpp.llama_logit_bias(t, -math.inf) for t in tokens))
    return cast("llama_cpp.llama_sampler_p", llama_cpp.llama_sampler_init_logit_bias(llama_cpp.llama_vocab_n_tokens(vocab), len(tokens), biases))
