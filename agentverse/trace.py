"""What happened while solving one problem: every model call and every notable event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentverse.config.schema import GenerationConfig
from agentverse.llms.base import Attempt

CallStatus = Literal["ok", "parse_error", "llm_error", "context_overflow"]


class CallRecord(BaseModel):
    """One attempt of one agent: what was sent, what came back, and what it cost."""

    round: int
    agent: str
    agent_type: str
    role: str
    attempt: int
    messages: list[dict[str, str]]
    generation: GenerationConfig
    status: CallStatus
    content: str | None = None
    reasoning: str | None = None
    parsed: dict[str, Any] | None = None
    error: str | None = None
    finish_reason: str | None = None
    truncated: bool = False
    forced_answer: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    latency_s: float = 0.0
    endpoint: str | None = None
    model: str | None = None  # the served model asked (its endpoint's `model`)
    endpoint_name: str | None = None  # the task config's name of that endpoint (`default`: `llm`)
    max_tokens_sent: int | None = None  # after fitting into the context; may be below generation.max_tokens
    attempts: list[Attempt] = Field(default_factory=list, description="HTTP attempts, retries included.")


EventKind = Literal[
    "round_start",
    "ceo_decision",
    "ceo_clamped",
    "ceo_stop_ignored",
    "fallback",
    "roles",
    "solution",
    "critic_verdicts",
    "consensus",
    "executor",
    "evaluation",
    "agent_failed",
    "infrastructure_error",
    "termination",
    "vote",
]


class TraceEvent(BaseModel):
    round: int
    kind: EventKind
    detail: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class CallStarted:
    """A model call is on its way (shown to observers, e.g. a progress line; never recorded)."""

    round: int
    agent: str
    agent_type: str
    attempt: int


@dataclass(frozen=True, eq=False)
class CallEnded:
    """The call `started` is over: answered, failed or cancelled (its record, if any, comes apart)."""

    started: CallStarted


Notice = CallRecord | TraceEvent | CallStarted | CallEnded
Observer = Callable[[Notice], None]


class Trace:
    """Collects calls and events; an optional observer sees each one as it happens, and also
    when each call starts and ends."""

    def __init__(self, observer: Observer | None = None) -> None:
        self.calls: list[CallRecord] = []
        self.events: list[TraceEvent] = []
        self.observer = observer

    def add_call(self, record: CallRecord) -> None:
        self.calls.append(record)
        if self.observer:
            self.observer(record)

    def event(self, round_number: int, kind: EventKind, **detail: Any) -> None:
        event = TraceEvent(round=round_number, kind=kind, detail=detail)
        self.events.append(event)
        if self.observer:
            self.observer(event)

    @contextmanager
    def call_in_flight(self, started: CallStarted) -> Iterator[None]:
        """Tell the observer that a call starts, and that it ended (however it ended)."""
        if self.observer:
            self.observer(started)
        try:
            yield
        finally:
            if self.observer:
                self.observer(CallEnded(started))
