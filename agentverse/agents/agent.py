"""One agent: renders its prompts, calls the shared model, parses the reply, keeps its memory.

All agents go through `Agent.step`, the single place where a reply is retried when it
cannot be parsed and recorded as a failure when the retries run out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from string import Template
from typing import Any, Generic, Literal, TypedDict, TypeVar

from agentverse.agents.memory import Memory, Message, lay_out
from agentverse.agents.output_parsers import PARSERS, ParsedOutput, ParseError
from agentverse.config.schema import DEFAULT_ENDPOINT, AgentConfig, GenerationConfig
from agentverse.llms.base import Attempt, ChatMessage, ContextOverflow, LLMError
from agentverse.llms.client import Generation, LLMClient
from agentverse.trace import CallRecord, CallStarted, Trace

Output = TypeVar("Output", bound=ParsedOutput)


class CallRequest(TypedDict):
    """The fields of a `CallRecord` known before the model answers: who asked, and what was sent."""

    round: int
    agent: str
    agent_type: str
    role: str
    attempt: int
    messages: list[dict[str, str]]
    generation: GenerationConfig
    model: str
    endpoint_name: str


class CallReply(TypedDict):
    """The fields of a `CallRecord` taken from the model's reply: the texts and what it cost."""

    content: str
    reasoning: str | None
    finish_reason: str
    truncated: bool
    forced_answer: bool
    prompt_tokens: int
    completion_tokens: int
    requests: int
    latency_s: float
    endpoint: str
    max_tokens_sent: int
    attempts: list[Attempt]


class InfrastructureFailure(Exception):
    """A model call that still failed after its transport retries (HTTP error, timeout, connection).

    It is never turned into an answer or a fallback: it ends the problem as an error, which is
    excluded from the score and retried on resume.
    """

    def __init__(self, agent: str, round_number: int, cause: str) -> None:
        super().__init__(f"{agent} (round {round_number}): {cause}")
        self.agent = agent
        self.round_number = round_number
        self.cause = cause


@dataclass(frozen=True)
class AgentOutcome(Generic[Output]):
    """The parsed output, or why there is none (never a made-up answer).

    Only model failures arrive here (a reply that still cannot be parsed); infrastructure
    failures raise `InfrastructureFailure` instead.
    """

    output: Output | None
    status: Literal["ok", "parse_error", "context_overflow"]
    error: str | None = None
    content: str | None = None

    @property
    def ok(self) -> bool:
        return self.output is not None


class Agent:
    def __init__(self, config: AgentConfig, llm: LLMClient, trace: Trace, role: str | None = None) -> None:
        self.config = config
        self.llm = llm
        self.trace = trace
        self.role = role if role is not None else config.role_description
        self.memory = Memory(config.memory.window_for(config.agent_type))
        self.parser = PARSERS.get(config.output_parser.type)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def sender(self) -> str:
        """The name its messages carry in the others' memories: its expert role once it has one
        (the research code renames each recruit to its role), else its configured name."""
        return self.role.strip() or self.name

    def receive(self, message: Message) -> None:
        self.memory.add(message)

    def build_messages(self, variables: dict[str, Any]) -> list[ChatMessage]:
        values = {key: str(value) for key, value in variables.items()}
        values["role_description"] = self.role
        layout = self.config.memory.layout
        system = Template(self.config.prepend_prompt_template).safe_substitute(values)
        prompt = Template(self.config.append_prompt_template).safe_substitute(values)
        if layout == "turns":  # the research layouts send the filled templates exactly as they are
            system, prompt = system.strip(), prompt.strip()
        return lay_out(layout, system, self.memory.recent(), prompt, self.name)

    def message(self, content: str) -> Message:
        """A message from this agent, to broadcast."""
        return Message(sender=self.sender, content=content, source=self.name)

    def generation(self, max_tokens: int | None) -> GenerationConfig:
        if max_tokens is None:
            return self.config.llm
        return self.config.llm.model_copy(update={"max_tokens": max_tokens})

    async def step(
        self,
        round_number: int,
        variables: dict[str, Any],
        *,
        expected: int = 0,
        max_tokens: int | None = None,
    ) -> AgentOutcome[Any]:
        messages = self.build_messages(variables)
        generation = self.generation(max_tokens)
        outcome: AgentOutcome[Any] = AgentOutcome(None, "parse_error", "no attempt made")
        for attempt in range(1, self.config.max_retry + 1):
            # Transport retries already happened inside the backend; only unreadable replies retry here.
            outcome = await self._attempt(round_number, attempt, messages, generation, expected)
            if outcome.status != "parse_error":  # ok, or a prompt that will not fit any better next time
                break
        return outcome

    async def _attempt(
        self,
        round_number: int,
        attempt: int,
        messages: list[ChatMessage],
        generation: GenerationConfig,
        expected: int,
    ) -> AgentOutcome[Any]:
        sent = CallRequest(
            round=round_number,
            agent=self.name,
            agent_type=self.config.agent_type,
            role=self.role,
            attempt=attempt,
            messages=[{"role": message["role"], "content": message["content"]} for message in messages],
            generation=generation,
            model=self.llm.config.model,
            endpoint_name=self.llm.name,
        )
        started = time.perf_counter()
        try:
            with self.trace.call_in_flight(CallStarted(round_number, self.name, self.config.agent_type, attempt)):
                result = await self.llm.generate(messages, generation)
        except ContextOverflow as overflow:
            self.trace.add_call(CallRecord(**sent, status="context_overflow", error=str(overflow)))
            return AgentOutcome(None, "context_overflow", str(overflow))
        except LLMError as error:
            waited = time.perf_counter() - started  # retries included: what the failing endpoint cost
            failed = CallRecord(
                **sent, status="llm_error", error=str(error), attempts=list(error.attempts), latency_s=waited
            )
            self.trace.add_call(failed)
            cause = str(error) if self.llm.name == DEFAULT_ENDPOINT else f"endpoint {self.llm.name!r}: {error}"
            raise InfrastructureFailure(self.name, round_number, cause) from error
        reply = reply_fields(result)
        try:
            parsed = self.parser(result.content, expected)
        except ParseError as error:
            self.trace.add_call(CallRecord(**sent, **reply, status="parse_error", error=str(error)))
            return AgentOutcome(None, "parse_error", str(error), result.content)
        self.trace.add_call(CallRecord(**sent, **reply, status="ok", parsed=parsed.model_dump()))
        return AgentOutcome(parsed, "ok", None, result.content)


def reply_fields(result: Generation) -> CallReply:
    """What a call record keeps of a reply: the texts, the cost and how it was obtained."""
    return {
        "content": result.content,
        "reasoning": result.reasoning,
        "finish_reason": result.finish_reason,
        "truncated": result.truncated,
        "forced_answer": result.forced_answer,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "requests": result.requests,
        "latency_s": result.latency_s,
        "endpoint": result.endpoint,
        "max_tokens_sent": result.max_tokens,
        "attempts": list(result.attempts),
    }
