"""What agents call: one backend plus thinking-model handling (the paper's budget forcing).

For a thinking model the reply is prefilled with `<think>`. If the model spends its whole
budget thinking, `</think>` is appended and it gets a short budget to answer
(`min(context - B, B / 2)`, as in the research code). Other agents only ever see the text
after the last `</think>`; the trace keeps the reasoning too.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from agentverse.config.schema import DEFAULT_ENDPOINT, EndpointConfig, GenerationConfig
from agentverse.llms import openai_backend, transformers_backend  # noqa: F401  (they register themselves)
from agentverse.llms.base import BACKENDS, Attempt, Backend, ChatMessage, ContextOverflow, LLMError, RawCompletion
from agentverse.llms.gate import EndpointLoad

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
FINAL_ANSWER = "<Final Answer>:"
RESEARCH_EMPTY_RETRIES = 3  # the research code asks again, up to 3 times, while a forced answer is empty
FORCED_ANSWER_OVERHEAD = 16  # tokens for `</think>` and the chat template around a forced answer


class Generation(BaseModel):
    """One agent-level model call: the visible answer, the hidden reasoning, and the cost."""

    model_config = ConfigDict(frozen=True)

    content: str
    reasoning: str | None
    finish_reason: str
    truncated: bool  # the visible answer was cut by the token limit
    forced_answer: bool  # the budget ran out while thinking and </think> was forced
    prompt_tokens: int
    completion_tokens: int
    requests: int
    latency_s: float
    endpoint: str
    model: str = ""  # the served model name of this client's endpoint
    max_tokens: int  # the budget actually sent (after fitting into the context)
    attempts: tuple[Attempt, ...] = ()  # every HTTP attempt of every request, retries included


def split_reasoning(text: str, marker: str = THINK_CLOSE) -> tuple[str | None, str]:
    """Return (reasoning, answer): the answer is what follows the last `marker` (`</think>`)."""
    if marker not in text:
        return None, text.strip()
    reasoning, answer = text.rsplit(marker, 1)
    return reasoning.replace(THINK_OPEN, "", 1).strip(), answer.strip()


def kept_text(text: str) -> tuple[str | None, str]:
    """What the research code keeps of a reply: what follows the first `<Final Answer>:`, then of
    that what follows the last `</think>`, stripped; the part before it is the reasoning. A reply
    with neither marker is kept whole (reasoning None)."""
    if FINAL_ANSWER in text:
        before, text = text.split(FINAL_ANSWER, 1)
        reasoning, answer = split_reasoning(text)
        return (reasoning or split_reasoning(before)[0] or before.replace(THINK_OPEN, "", 1).strip()), answer
    return split_reasoning(text)


def full_text(raw: RawCompletion) -> str:
    """The reply as the model wrote it, also when the server split the reasoning off."""
    return f"{raw.reasoning}{THINK_CLOSE}{raw.text}" if raw.reasoning is not None else raw.text


class LLMClient:
    """One endpoint's model, shared by the agents that call it; concurrency limits live in the backend.

    `name` is the endpoint's name in the task config (`default` for `llm`), kept on every call record.
    """

    def __init__(self, config: EndpointConfig, backend: Backend, name: str = DEFAULT_ENDPOINT) -> None:
        self.config = config
        self.backend = backend
        self.name = name

    @classmethod
    def from_config(cls, config: EndpointConfig, name: str = DEFAULT_ENDPOINT) -> LLMClient:
        return cls(config, BACKENDS.get(config.backend)(config), name)

    def fit_to_context(self, messages: list[ChatMessage], generation: GenerationConfig) -> GenerationConfig:
        """Keep prompt + max_tokens inside the context.

        Some servers reject a request that could overflow the context (vLLM 0.32 instead stops
        silently at the limit, with finish_reason "length"). The prompt length is estimated
        generously (3 characters a token, plus overhead per message) because the tokenizer
        lives on the server; the budget actually sent is recorded with every call.
        """
        estimate = sum(len(message["content"]) // 3 + 16 for message in messages) + 256
        room = self.config.context_length - estimate
        if room < self.config.min_reply_tokens:
            raise ContextOverflow(
                f"the prompt (about {estimate} tokens) leaves {max(room, 0)} of the {self.config.context_length}-token "
                f"context for the reply, below min_reply_tokens {self.config.min_reply_tokens}; not sent"
            )
        if generation.max_tokens <= room:
            return generation
        return generation.model_copy(update={"max_tokens": room})

    def fit_beside(
        self, first: RawCompletion, messages: list[ChatMessage], answer: GenerationConfig
    ) -> GenerationConfig:
        """Fit a forced answer beside the prompt and thought of the request before it, by the
        server's own count of both when it gave one (an estimate from characters can be far off
        for a long thought), else by the estimate of `fit_to_context`."""
        if first.prompt_tokens <= 0 or first.completion_tokens <= 0:
            return self.fit_to_context(messages, answer)
        used = first.prompt_tokens + first.completion_tokens + FORCED_ANSWER_OVERHEAD
        room = self.config.context_length - used
        if room < self.config.min_reply_tokens:
            raise ContextOverflow(
                f"the prompt and the thought ({used} tokens by the server's count) leave {max(room, 0)} of the "
                f"{self.config.context_length}-token context for the forced answer, below min_reply_tokens "
                f"{self.config.min_reply_tokens}; not sent"
            )
        return answer if answer.max_tokens <= room else answer.model_copy(update={"max_tokens": room})

    async def generate(self, messages: list[ChatMessage], generation: GenerationConfig) -> Generation:
        await self.prepare()  # an in-process model loads first: its loading is no call's latency
        started = time.perf_counter()
        if self.config.fit_to_context:
            generation = self.fit_to_context(messages, generation)
        if self.config.budget_forcing == "research":
            content, reasoning, raws, forced = await self._generate_research(messages, generation)
        elif self.config.thinking and self.config.budget_forcing == "server":
            content, reasoning, raws, forced = await self._generate_server_budget(messages, generation)
        elif self.config.thinking:
            content, reasoning, raws, forced = await self._generate_thinking(messages, generation)
        else:
            raw = await self.backend.complete(messages, generation)
            embedded_reasoning, content = split_reasoning(raw.text)
            reasoning, raws, forced = raw.reasoning or embedded_reasoning, [raw], False
        last = raws[-1]
        return Generation(
            content=content,
            reasoning=reasoning,
            finish_reason=last.finish_reason,
            truncated=last.finish_reason == "length",
            forced_answer=forced,
            prompt_tokens=sum(raw.prompt_tokens for raw in raws),
            completion_tokens=sum(raw.completion_tokens for raw in raws),
            requests=len(raws),
            latency_s=time.perf_counter() - started,
            endpoint=last.endpoint,
            model=self.config.model,
            max_tokens=generation.max_tokens,
            attempts=tuple(attempt for raw in raws for attempt in raw.attempts),
        )

    async def _generate_thinking(
        self, messages: list[ChatMessage], generation: GenerationConfig
    ) -> tuple[str, str | None, list[RawCompletion], bool]:
        """Returns (answer, reasoning, requests made, whether `</think>` was forced)."""
        prefill = self.config.think_prefill
        first = await self.backend.complete(messages, generation, prefill)
        if first.reasoning is not None:  # the server's reasoning parser already split it
            return first.text.strip(), first.reasoning, [first], False
        if THINK_CLOSE in first.text:
            reasoning, content = split_reasoning(first.text)
            return content, reasoning, [first], False
        if first.finish_reason != "length":
            # Stopped without closing its thoughts: everything it wrote is the answer.
            return first.text.strip(), None, [first], False
        answer_budget = max(1, min(self.config.context_length - generation.max_tokens, generation.max_tokens // 2))
        forced_prefix = f"{prefill}{first.text}\n{THINK_CLOSE}\n\n"
        answer = generation.model_copy(update={"max_tokens": answer_budget})
        if self.config.fit_to_context:  # the thinking now belongs to the prompt: the answer must fit beside it
            answer = self.fit_beside(first, [*messages, {"role": "assistant", "content": forced_prefix}], answer)
        try:
            second = await self.backend.complete(messages, answer, forced_prefix)
        except LLMError as error:
            error.attempts = [*first.attempts, *error.attempts]
            raise
        return second.text.strip(), first.text.strip(), [first, second], True

    async def _generate_research(
        self, messages: list[ChatMessage], generation: GenerationConfig
    ) -> tuple[str, str | None, list[RawCompletion], bool]:
        """The research code's local path: force an answer once the reply reaches max_tokens - 200
        tokens (by the server's count), whether or not the model closed its thoughts."""
        prefill = self.config.think_prefill if self.config.thinking else None
        first = await self.backend.complete(messages, generation, prefill)
        text = full_text(first)
        if first.completion_tokens < generation.max_tokens - self.config.budget_forcing_margin:
            reasoning, content = kept_text(text)
            if reasoning is None and prefill is not None:
                # Never closed its thoughts: the research code keeps the whole output, prefill included.
                content = f"{prefill}{text}"
            return content, reasoning, [first], False
        # A thinking model's thoughts are closed; another model is told to answer.
        prefix = f"{prefill}{text}{THINK_CLOSE}" if prefill is not None else f"{text}{FINAL_ANSWER}"
        budget = min(self.config.context_length - generation.max_tokens, int(0.5 * generation.max_tokens))
        answer = generation.model_copy(update={"max_tokens": max(1, budget)})
        if self.config.fit_to_context:  # (paper-exact mode does not: the research code never fits)
            answer = self.fit_beside(first, [*messages, {"role": "assistant", "content": prefix}], answer)
        raws = [first]
        content = ""
        # A thinking model whose forced answer comes back empty is asked again (3 more times at most).
        retries = RESEARCH_EMPTY_RETRIES if prefill is not None else 0
        for retry in range(retries + 1):
            if retry == 1:
                prefix += FINAL_ANSWER  # once, before the first retry
            try:
                raws.append(await self.backend.complete(messages, answer, prefix))
            except LLMError as error:
                error.attempts = [attempt for raw in raws for attempt in raw.attempts] + error.attempts
                raise
            content = kept_text(full_text(raws[-1]))[1]
            if raws[-1].text != "":
                break
        return content, kept_text(text)[0] or text.strip(), raws, True

    async def _generate_server_budget(
        self, messages: list[ChatMessage], generation: GenerationConfig
    ) -> tuple[str, str | None, list[RawCompletion], bool]:
        """One request: the server ends the thinking at the budget B itself, and the answer gets the
        forced answer's budget, min(context - B, B / 2), on top."""
        budget = generation.max_tokens
        answer_budget = max(1, min(self.config.context_length - budget, budget // 2))
        one = generation.model_copy(update={"max_tokens": budget + answer_budget})
        if self.config.fit_to_context:
            one = self.fit_to_context(messages, one)
        # What the context leaves, less the answer's share, may be thought.
        thinking = max(1, min(budget, one.max_tokens - answer_budget))
        one = one.model_copy(update={"thinking_token_budget": thinking})
        raw = await self.backend.complete(messages, one, self.config.think_prefill)
        if raw.reasoning is not None:  # the server's reasoning parser split it
            return raw.text.strip(), raw.reasoning, [raw], False
        reasoning, content = split_reasoning(raw.text)
        return content, reasoning, [raw], False

    def loading_message(self) -> str | None:
        """What `prepare` is about to load (an in-process model), or None: nothing to load."""
        describe = getattr(self.backend, "loading_message", None)
        return describe() if describe is not None else None

    async def prepare(self) -> None:
        """Load an in-process model now (nothing to do for a server)."""
        prepare = getattr(self.backend, "prepare", None)
        if prepare is not None:
            await prepare()

    async def check(self) -> list[str]:
        """The backend's pre-run check of its endpoints (warnings; raises when none can serve)."""
        check = getattr(self.backend, "check", None)
        return await check() if check is not None else []

    def load(self) -> list[EndpointLoad]:
        """How busy each endpoint was kept (empty for backends without endpoints)."""
        load = getattr(self.backend, "load", None)
        return load() if load is not None else []

    def request_cap(self) -> int:
        """Requests the backend takes at once, summed over its endpoints."""
        total = getattr(self.backend, "total_cap", None)
        return total() if total is not None else self.config.cap()

    @property
    def notices(self) -> list[str]:
        return list(getattr(self.backend, "notices", []))

    @property
    def unreachable(self) -> bool:
        """Every endpoint is marked down: nothing more can be sent."""
        return bool(getattr(self.backend, "unreachable", False))

    def unreachable_message(self) -> str:
        describe = getattr(self.backend, "unreachable_message", None)
        return describe() if describe is not None else "the model cannot be reached"

    async def aclose(self) -> None:
        await self.backend.aclose()
