"""One GGUF model loaded for batched decoding: its context, tokenizer and chat template."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import llama_cpp
from llama_cpp._internals import LlamaContext, LlamaModel
from llama_cpp._logger import set_verbose
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

BATCH_SIZE = 512
# The SmolLM2/ChatML template, for a GGUF that carries none (as llama.cpp falls back to ChatML).
_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass
class LoadedModel:
    model: LlamaModel
    context: LlamaContext
    chat_formatter: Jinja2ChatFormatter

    @property
    def vocab(self) -> llama_cpp.llama_vocab_p:
        return cast(llama_cpp.llama_vocab_p, self.model.vocab)

    @property
    def slots(self) -> int:
        return self.context.params.n_seq_max

    @property
    def context_size(self) -> int:
        """Of one sequence."""
        return self.context.n_ctx() // self.slots

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return cast(list[int], self.model.tokenize(text.encode(), add_bos=add_bos, special=True))

    def chat_prompt(self, messages: list[dict[str, Any]], tools: list[Any] | None, tool_choice: Any) -> list[int]:
        """The chat rendered by the GGUF's template, tokenized as llama-cpp-python does."""
        # OpenAI-shaped dicts, validated by the API; llama-cpp-python types them as its TypedDicts
        rendered = self.chat_formatter(messages=messages, tools=tools, tool_choice=tool_choice)  # type: ignore[arg-type]
        return self.tokenize(rendered.prompt, add_bos=not rendered.added_special)


def load(model_path: Path, context_size: int, slots: int, threads: int | None, chat_template: str | None,
         embedding: bool = False) -> LoadedModel:  # fmt: skip
    """``context_size`` tokens for each of ``slots`` sequences.

    Each sequence has its own KV cache (not llama.cpp's unified one): attention then never spans
    other sequences' cells, so a sequence decodes to the same tokens whatever runs beside it.
    """
    set_verbose(False)  # llama.cpp's load log: errors only
    model_params = llama_cpp.llama_model_default_params()
    model_params.n_gpu_layers = 999  # every layer on the GPU when there is one
    model = LlamaModel(path_model=str(model_path), params=model_params, verbose=False)
    context_params = llama_cpp.llama_context_default_params()
    context_params.n_ctx = context_size * slots
    context_params.n_batch = context_params.n_ubatch = BATCH_SIZE
    context_params.n_seq_max = slots
    context_params.kv_unified = False
    metadata = model.metadata()
    if embedding:
        context_params.embeddings = True
        context_params.n_batch = context_params.n_ubatch = context_size  # an input is decoded whole
        architecture = metadata.get("general.architecture", "llama")
        if metadata.get(f"{architecture}.pooling_type", "0") == "0":
            # No pooling layer of its own (a chat model): averaged over its tokens, as by llama-server.
            context_params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_MEAN
    # By default half the CPUs, as llama-cpp-python's server (the engine this one replaced as the default):
    # on a machine whose other work takes a core, threads spinning at ggml's barriers stall every step.
    context_params.n_threads = context_params.n_threads_batch = threads or max(1, (os.cpu_count() or 2) // 2)
    context = LlamaContext(model=model, params=context_params, verbose=False)
    template = chat_template or metadata.get("tokenizer.chat_template") or _CHATML
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=model.token_get_text(model.token_eos()),
        bos_token=model.token_get_text(model.token_bos()),
    )
    return LoadedModel(model, context, formatter)
