"""The LLM interface: what every backend returns and how it fails."""

from __future__ import annotations

from typing import Literal, Protocol, TypedDict

from pydantic import BaseModel, ConfigDict

from agentverse.config.schema import GenerationConfig
from agentverse.registry import Registry


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class RawCompletion(BaseModel):
    """One backend request's answer, before thinking is split off."""

    model_config = ConfigDict(frozen=True)

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    endpoint: str
    reasoning: str | None = None  # filled when the server splits reasoning itself


ErrorKind = Literal["http_status", "timeout", "connection", "bad_response", "rate_limit"]


class LLMError(Exception):
    """A failed model call. `retryable` marks transient errors (429, 5xx, timeouts, connection)."""

    def __init__(self, kind: ErrorKind, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status_code = status_code
        self.message = message

    @property
    def retryable(self) -> bool:
        if self.kind in ("timeout", "connection", "rate_limit"):
            return True
        return self.kind == "http_status" and self.status_code is not None and self.status_code >= 500

    def __str__(self) -> str:
        code = f" {self.status_code}" if self.status_code is not None else ""
        return f"{self.kind}{code}: {self.message}"


class Backend(Protocol):
    """Generates a continuation. `prefill` is the start of the assistant reply to continue from."""

    async def complete(
        self, messages: list[ChatMessage], generation: GenerationConfig, prefill: str | None = None
    ) -> RawCompletion: ...

    async def aclose(self) -> None: ...


# Backend classes keyed by the config's `llm.backend`; each takes the EndpointConfig.
BACKENDS: Registry[type] = Registry("llm backend")
