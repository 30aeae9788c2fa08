"""The LLM interface: what every backend returns and how it fails."""

from __future__ import annotations

from typing import Literal, Protocol, TypedDict

from pydantic import BaseModel, ConfigDict

from agentverse.config.schema import GenerationConfig
from agentverse.registry import Registry


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


ErrorKind = Literal[
    "http_status",
    "timeout",
    "connection",  # connected, then reset or dropped
    "refused",  # could not connect at all
    "bad_response",
    "rate_limit",
    "redirect",
    "invalid_url",
    "dns",
    "unreachable",  # every endpoint is marked down: nothing was sent
    "retired",  # removed from the endpoints file while the request waited: try another
]
# Failures that say the endpoint cannot be reached at all (they trip its circuit breaker).
UNREACHABLE_KINDS = frozenset({"refused", "dns", "invalid_url"})
# Statuses worth another try: the server may answer differently in a moment.
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})


class Attempt(BaseModel):
    """One HTTP attempt of a request: where it went and how it ended (None: it succeeded)."""

    model_config = ConfigDict(frozen=True)

    endpoint: str
    status_code: int | None = None
    error_kind: ErrorKind | None = None
    latency_s: float = 0.0


class RawCompletion(BaseModel):
    """One backend request's answer, before thinking is split off."""

    model_config = ConfigDict(frozen=True)

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    endpoint: str
    reasoning: str | None = None  # filled when the server splits reasoning itself
    attempts: tuple[Attempt, ...] = ()  # every HTTP attempt of this request, the successful one last


class ModelLoadError(RuntimeError):
    """An in-process model could not be loaded (no such folder, the wheel missing, a damaged file):
    the run cannot start; the message says which model and why."""


class LLMError(Exception):
    """A failed model call.

    `retryable` marks transient errors: timeouts, dropped connections, 408/409/425/429 and 5xx.
    Invalid URLs, redirects, DNS failures and other 4xx (400, 401, 403, 404, 422) are permanent.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status_code = status_code
        self.message = message
        self.retry_after_s = retry_after_s  # the server's Retry-After, when it sent one
        self.attempts: list[Attempt] = []

    @property
    def retryable(self) -> bool:
        if self.kind in ("timeout", "connection", "refused", "rate_limit", "retired"):
            return True
        if self.kind != "http_status" or self.status_code is None:
            return False
        return self.status_code >= 500 or self.status_code in TRANSIENT_STATUSES

    def __str__(self) -> str:
        code = f" {self.status_code}" if self.status_code is not None else ""
        return f"{self.kind}{code}: {self.message}"


class ContextOverflow(Exception):
    """The prompt leaves less than `min_reply_tokens` of the context for the reply; nothing was sent.

    A model-side failure (the conversation outgrew the model), not an infrastructure one.
    """


class Backend(Protocol):
    """Generates a continuation. `prefill` is the start of the assistant reply to continue from."""

    async def complete(
        self, messages: list[ChatMessage], generation: GenerationConfig, prefill: str | None = None
    ) -> RawCompletion: ...

    async def aclose(self) -> None: ...


# Backend classes keyed by the config's `llm.backend`; each takes the EndpointConfig.
BACKENDS: Registry[type] = Registry("llm backend")
