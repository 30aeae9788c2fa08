"""One record as a problem page shows it: the problem, each round (the CEO's plan with any clamping
or fallback, the experts, the discussion's calls in order, critic verdicts, executor, evaluator)
and the final answer with its grade. Built here, in Python, so that the page only lays it out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

EVENT_KINDS_SHOWN = (
    "ceo_clamped",
    "ceo_stop_ignored",
    "fallback",
    "critic_verdicts",
    "consensus",
    "executor",
    "evaluation",
    "agent_failed",
    "infrastructure_error",
    "vote",
)


class AttemptView(BaseModel):
    endpoint: str | None = None
    status_code: int | None = None
    error_kind: str | None = None
    latency_s: float = 0.0


class CallView(BaseModel):
    number: int
    agent: str
    agent_type: str
    role: str = ""
    attempt: int = 1
    status: str
    error: str | None = None
    content: str | None = None
    reasoning: str | None = None
    verdict: str | None = Field(default=None, description="A critic's agree/disagree, an evaluator's 1/0.")
    messages: list[dict[str, str]] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    max_tokens: int | None = None
    model: str | None = None
    endpoint_name: str | None = None
    forced_answer: bool = False
    truncated: bool = False
    attempts: list[AttemptView] = Field(default_factory=list)


class PlanView(BaseModel):
    decision: str
    recruit_number: int | None = None
    direction: str = ""
    max_tokens: int | None = None
    source: str = "ceo"
    clamped: dict[str, Any] = Field(default_factory=dict, description="Field: {asked, used}.")
    stop_ignored: bool = False


class EventView(BaseModel):
    kind: str
    detail: dict[str, Any] = Field(default_factory=dict)


class RoundView(BaseModel):
    number: int
    plan: PlanView | None = None
    experts: list[str] = Field(default_factory=list)
    events: list[EventView] = Field(default_factory=list)
    calls: list[CallView] = Field(default_factory=list)
    evaluation: dict[str, Any] | None = None
    executor: dict[str, Any] | None = None


class ProblemView(BaseModel):
    id: str
    status: str
    mode: str = "multi-agent"
    error: str | None = None
    problem: str
    target: str
    final_answer: str | None = None
    grade: dict[str, Any] | None = None
    termination: str | None = None
    rounds: list[RoundView] = Field(default_factory=list)
    tokens: int = 0
    wall_time_s: float = 0.0


def as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def call_view(number: int, call: dict[str, Any]) -> CallView:
    parsed = call.get("parsed") or {}
    verdict = None
    if "agree" in parsed:
        verdict = "agree" if parsed["agree"] else "disagree"
    elif "correct" in parsed:
        verdict = "correct (1)" if parsed["correct"] else "incorrect (0)"
    return CallView(
        number=number,
        agent=str(call.get("agent", "")),
        agent_type=str(call.get("agent_type", "")),
        role=str(call.get("role") or ""),
        attempt=int(call.get("attempt") or 1),
        status=str(call.get("status", "")),
        error=call.get("error"),
        content=call.get("content"),
        reasoning=call.get("reasoning"),
        verdict=verdict,
        messages=[
            {"role": str(message.get("role", "")), "content": str(message.get("content", ""))}
            for message in call.get("messages") or []
        ],
        prompt_tokens=int(call.get("prompt_tokens") or 0),
        completion_tokens=int(call.get("completion_tokens") or 0),
        latency_s=float(call.get("latency_s") or 0.0),
        max_tokens=call.get("max_tokens_sent") or (call.get("generation") or {}).get("max_tokens"),
        model=call.get("model"),
        endpoint_name=call.get("endpoint_name"),
        forced_answer=bool(call.get("forced_answer")),
        truncated=bool(call.get("truncated")),
        attempts=[AttemptView.model_validate(attempt) for attempt in call.get("attempts") or []],
    )


def round_view(number: int, events: list[dict[str, Any]], calls: list[CallView]) -> RoundView:
    view = RoundView(number=number, calls=calls)
    clamped: dict[str, Any] = {}
    stop_ignored = False
    for event in events:
        kind, detail = event.get("kind", ""), event.get("detail") or {}
        if kind == "ceo_clamped":
            clamped |= detail
        elif kind == "ceo_stop_ignored":
            stop_ignored = True
        elif kind == "ceo_decision":
            view.plan = PlanView(
                decision=str(detail.get("decision", "")),
                recruit_number=detail.get("recruit_number"),
                direction=str(detail.get("direction", "")),
                max_tokens=detail.get("max_tokens"),
                source=str(detail.get("source", "ceo")),
            )
        elif kind == "roles":
            view.experts = [str(role) for role in detail.get("roles") or []]
        elif kind == "evaluation":
            view.evaluation = detail
        elif kind == "executor":
            view.executor = detail
        if kind in EVENT_KINDS_SHOWN:
            view.events.append(EventView(kind=kind, detail=detail))
    if view.plan is not None:
        view.plan.clamped, view.plan.stop_ignored = clamped, stop_ignored
    return view


def problem_view(record: dict[str, Any]) -> ProblemView:
    sample = record.get("sample") or {}
    result = record.get("result") or {}
    raw_calls = result.get("calls") or []
    calls = [call_view(number, call) for number, call in enumerate(raw_calls, start=1)]
    call_rounds = [int(call.get("round", 0)) for call in raw_calls]
    events = result.get("events") or []
    numbers = sorted({int(event.get("round", 0)) for event in events} | set(call_rounds))
    rounds = [
        round_view(
            number,
            [event for event in events if int(event.get("round", 0)) == number],
            [call for call, call_round in zip(calls, call_rounds, strict=True) if call_round == number],
        )
        for number in numbers
    ]
    usage = result.get("usage") or {}
    return ProblemView(
        id=str(sample.get("id", "")),
        status=str(record.get("status", "")),
        mode=str(record.get("mode", "multi-agent")),
        error=record.get("error") or result.get("error"),
        problem=as_text(sample.get("input")),
        target=as_text(sample.get("target")),
        final_answer=result.get("final_answer"),
        grade=record.get("grade"),
        termination=result.get("termination"),
        rounds=rounds,
        tokens=sum(entry.get("prompt_tokens", 0) + entry.get("completion_tokens", 0) for entry in usage.values()),
        wall_time_s=float(result.get("wall_time_s") or 0.0),
    )
