"""The task-solving loop for one problem: CEO -> recruit -> discuss -> execute -> evaluate.

A problem ends when the CEO says Stop (with a solution on the table), the evaluator says
correct, the solver produces nothing readable, or `max_turn` rounds have run; the result says
which. The final answer is the solver's last solution, whatever the evaluator said.

Two kinds of failure, two outcomes:
- a model failure (a reply that still cannot be parsed after its retries) is the model's doing:
  a fallback for control agents (named in the trace and counted), and for the solver the end of
  the problem (`solver_failed`, status ok: with no solution it is graded no_answer and counts);
- an infrastructure failure (a call that still fails after its transport retries) ends the
  problem as `status: "error"` with no answer at all, whichever agent it hit: an earlier draft
  is never kept, because the failed call could have changed it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from agentverse.agents.agent import Agent, InfrastructureFailure
from agentverse.agents.memory import Message
from agentverse.config.schema import DEFAULT_ENDPOINT, TaskConfig
from agentverse.environments.tasksolving.rules.ceo import CEO_RULES
from agentverse.environments.tasksolving.rules.decision_maker import DECISION_MAKERS, Team
from agentverse.environments.tasksolving.rules.evaluator import EVALUATORS
from agentverse.environments.tasksolving.rules.executor import EXECUTORS, ExecutionUnavailable
from agentverse.environments.tasksolving.rules.role_assigner import ROLE_ASSIGNERS
from agentverse.environments.tasksolving.state import ProblemState, RoundPlan
from agentverse.llms.client import LLMClient
from agentverse.llms.pool import ModelPool
from agentverse.trace import CallRecord, Observer, Trace, TraceEvent
from dataloader.base import Sample

Termination = Literal[
    "ceo_stop", "evaluator_correct", "max_turn", "solver_failed", "single_agent", "self_consistency", "error"
]
ProblemStatus = Literal["ok", "error"]
CEO_SENDER = "CEO"  # the research code posts the direction as `[CEO]: ...`, whatever the CEO agent is named


class AgentUsage(BaseModel):
    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    @property
    def mean_latency_s(self) -> float | None:
        return self.latency_s / self.calls if self.calls else None


def completion_shares(split: dict[str, AgentUsage]) -> dict[str, float]:
    """Each entry's percent of the split's completion tokens (a role's, a model's, an endpoint's)."""
    total = sum(usage.completion_tokens for usage in split.values()) or 1
    return {name: 100 * usage.completion_tokens / total for name, usage in split.items()}


class ProblemResult(BaseModel):
    """Everything about one solved (or failed) problem; one line of a run's records file."""

    sample_id: str
    status: ProblemStatus = Field(description="`ok`: ran to an end (graded); `error`: an infrastructure failure.")
    error: str | None = None
    final_answer: str | None
    termination: Termination
    rounds: int
    evaluator_correct: bool | None = Field(description="The last evaluator's verdict; None when there was none.")
    ceo_decisions: list[RoundPlan] = Field(default_factory=list)
    fallbacks: int = 0
    failed_calls: int = 0
    usage: dict[str, AgentUsage] = Field(default_factory=dict)
    usage_by_model: dict[str, AgentUsage] = Field(default_factory=dict, description="The same calls by model.")
    usage_by_endpoint: dict[str, AgentUsage] = Field(
        default_factory=dict, description="The same calls by the task config's endpoint name (`default`: `llm`)."
    )
    wall_time_s: float
    calls: list[CallRecord] = Field(default_factory=list)
    events: list[TraceEvent] = Field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        return sum(usage.prompt_tokens + usage.completion_tokens for usage in self.usage.values())

    @property
    def completion_tokens(self) -> int:
        return sum(usage.completion_tokens for usage in self.usage.values())

    @classmethod
    def from_trace(
        cls,
        sample_id: str,
        trace: Trace,
        *,
        termination: Termination,
        rounds: int,
        wall_time_s: float,
        final_answer: str | None,
        evaluator_correct: bool | None = None,
        ceo_decisions: list[RoundPlan] | None = None,
        error: str | None = None,
    ) -> ProblemResult:
        """The result of one problem, its counts taken from the trace.

        After an infrastructure failure (`error`) no answer and no verdict stand: the failed call
        could have changed them.
        """
        failed = error is not None
        return cls(
            sample_id=sample_id,
            status="error" if failed else "ok",
            error=error,
            final_answer=None if failed else final_answer,
            termination=termination,
            rounds=rounds,
            evaluator_correct=None if failed else evaluator_correct,
            ceo_decisions=ceo_decisions or [],
            fallbacks=sum(event.kind == "fallback" for event in trace.events),
            failed_calls=sum(call.status != "ok" for call in trace.calls),
            usage=usage_by_agent(trace.calls),
            usage_by_model=usage_by(trace.calls, lambda call: call.model or "unknown"),
            usage_by_endpoint=usage_by(trace.calls, lambda call: call.endpoint_name or DEFAULT_ENDPOINT),
            wall_time_s=wall_time_s,
            calls=trace.calls,
            events=trace.events,
        )


def usage_by_agent(calls: list[CallRecord]) -> dict[str, AgentUsage]:
    return usage_by(calls, lambda call: call.agent_type)


def usage_by(calls: list[CallRecord], key: Callable[[CallRecord], str]) -> dict[str, AgentUsage]:
    usage: dict[str, AgentUsage] = {}
    for call in calls:
        entry = usage.setdefault(key(call), AgentUsage())
        entry.calls += 1
        entry.failed_calls += call.status != "ok"
        entry.prompt_tokens += call.prompt_tokens
        entry.completion_tokens += call.completion_tokens
        entry.latency_s += call.latency_s
    return usage


class TaskSolvingEnvironment:
    """Runs problems with one config and one shared model client (safe to run many at once)."""

    def __init__(self, config: TaskConfig, models: LLMClient | ModelPool) -> None:
        rule = config.environment.rule
        self.config = config
        pool = ModelPool.of(models)
        # Every component is built once, here, from its own config section, its agent's config and
        # the client of the endpoint that agent names.
        ceo_agent = config.optional_agent("ceo")
        ceo_llm = pool.for_agent(ceo_agent)
        self.ceo = CEO_RULES.get(rule.ceo.type)(rule.ceo, ceo_agent, ceo_llm, rule.role_assigner.cnt_agents)
        role_agent = config.agent("role_assigner")
        self.assign_roles = ROLE_ASSIGNERS.get(rule.role_assigner.type)(
            rule.role_assigner, role_agent, pool.for_agent(role_agent)
        )
        self.discuss = DECISION_MAKERS.get(rule.decision_maker.type)(rule.decision_maker)
        self.execute = EXECUTORS.get(rule.executor.type)(rule.executor)
        evaluator = config.agent("evaluator")
        self.evaluate = EVALUATORS.get(rule.evaluator.type)(rule.evaluator, evaluator, pool.for_agent(evaluator))
        self.solver_config = config.agent("solver")
        self.critic_config = config.agent("critic")
        self.solver_llm = pool.for_agent(self.solver_config)
        self.critic_llm = pool.for_agent(self.critic_config)

    async def solve(self, sample: Sample, observer: Observer | None = None) -> ProblemResult:
        started = time.perf_counter()
        state = ProblemState(sample=sample, trace=Trace(observer))
        try:
            termination, rounds = await self.run_rounds(state)
        except InfrastructureFailure as failure:
            state.trace.event(failure.round_number, "infrastructure_error", agent=failure.agent, error=failure.cause)
            state.trace.event(failure.round_number, "termination", reason="error")
            return self.result(state, "error", failure.round_number, time.perf_counter() - started, str(failure))
        state.trace.event(rounds, "termination", reason=termination)
        return self.result(state, termination, rounds, time.perf_counter() - started)

    async def run_rounds(self, state: ProblemState) -> tuple[Termination, int]:
        termination: Termination = "max_turn"
        rounds = 0
        for round_number in range(1, self.config.environment.max_turn + 1):
            state.trace.event(round_number, "round_start")
            plan = (await self.ceo(state, round_number)).model_copy(update={"round": round_number})
            state.plans.append(plan)
            state.trace.event(round_number, "ceo_decision", **plan.model_dump())
            if plan.decision == "stop" and self.stop_ends(state, round_number):
                return "ceo_stop", rounds
            rounds = round_number
            termination = await self.run_round(state, round_number, plan)
            if termination != "max_turn":
                break
        return termination, rounds

    def stop_ends(self, state: ProblemState, round_number: int) -> bool:
        if state.solution is None:
            state.trace.event(round_number, "ceo_stop_ignored", reason="no solution yet")
            return False
        if not self.config.environment.rule.ceo.honor_stop:
            state.trace.event(round_number, "ceo_stop_ignored", reason="honor_stop is false")
            return False
        return True

    async def run_round(self, state: ProblemState, round_number: int, plan: RoundPlan) -> Termination:
        state.plan = plan
        state.roles = await self.assign_roles(state, round_number, plan)
        state.trace.event(round_number, "roles", roles=state.roles)
        team = self.recruit(state, round_number, plan)
        if plan.direction:
            # The CEO's direction joins the team's memories (the research code posts it as `[CEO]: ...`).
            team.broadcast(Message(sender=CEO_SENDER, content=plan.direction, source=CEO_SENDER))
        discussion = await self.discuss(team)
        if discussion.solution is None:
            return "solver_failed"
        state.solution = discussion.solution
        try:
            report = await self.execute(state.sample, discussion.solution)
        except ExecutionUnavailable as unavailable:
            raise InfrastructureFailure("Executor", round_number, str(unavailable)) from None
        state.trace.event(round_number, "executor", summary=report.summary, passed=report.passed)
        verdict = await self.evaluate(state, round_number, discussion.solution, report)
        state.evaluation, state.evaluation_failed = verdict, verdict is None
        if verdict is None:
            state.trace.event(round_number, "evaluation", correct=None)
            return "max_turn"
        state.trace.event(round_number, "evaluation", **verdict.model_dump())
        return "evaluator_correct" if verdict.correct else "max_turn"

    def recruit(self, state: ProblemState, round_number: int, plan: RoundPlan) -> Team:
        """The solver keeps its memory across rounds; critics are recruited fresh each round."""
        if state.solver is None:
            state.solver = Agent(self.solver_config, self.solver_llm, state.trace, role=state.roles[0])
        state.solver.role = state.roles[0]
        critic_config = self.critic_config
        critics = [
            Agent(
                critic_config.model_copy(update={"name": f"{critic_config.name} {index}"}),
                self.critic_llm,
                state.trace,
                role=role,
            )
            for index, role in enumerate(state.roles[1:], start=1)
        ]
        share = self.config.environment.rule.decision_maker.share_critiques
        return Team(state, round_number, plan, state.solver, critics, share_critiques=share)

    def result(
        self, state: ProblemState, termination: Termination, rounds: int, wall: float, error: str | None = None
    ) -> ProblemResult:
        return ProblemResult.from_trace(
            state.sample.id,
            state.trace,
            termination=termination,
            rounds=rounds,
            wall_time_s=wall,
            final_answer=state.solution,
            evaluator_correct=None if state.evaluation is None else state.evaluation.correct,
            ceo_decisions=list(state.plans),
            error=error,
        )
