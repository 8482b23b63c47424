"""Embeddings from a context loaded in embedding mode: one pooled, unit-length vector per input.

Inputs are decoded one after another, each alone in the context (an embedding engine runs no
generations, so there is nothing to batch them with), under a lock since requests arrive
concurrently.
"""

import math
import threading

import llama_cpp

from compose_models.runner.backends.batched.model import LoadedModel


class Embedder:
    def __init__(self, loaded: LoadedModel) -> None:
        self._loaded = loaded
        self._context = loaded.context.ctx
        self._width = loaded.model.n_embd()
        self._lock = threading.Lock()

    def embed(self, text: str) -> tuple[list[float], int]:
        """The input's vector and its token count; ValueError if it does not fit the context."""
        tokens = self._loaded.tokenize(text, add_bos=True)
        if not tokens or len(tokens) > self._loaded.context_size:
            raise ValueError(f"the input has {len(tokens)} tokens; one embedding takes 1 to {self._loaded.context_size}")
        with self._lock:
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._context), True)
            batch = llama_cpp.llama_batch_get_one((llama_cpp.llama_token * len(tokens))(*tokens), len(tokens))
            if llama_cpp.llama_decode(self._context, batch) != 0:
                raise ValueError("llama.cpp could not embed the input")
            pooled = llama_cpp.llama_get_embeddings_seq(self._context, 0)
            vector = [float(pooled[index]) for index in range(self._width)]
        norm = math.sqrt(sum(value * value for value in vector)) or 1.0
        return [value / norm for value in vector], len(tokens)
