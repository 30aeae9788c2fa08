"""The task-solving loop for one problem: CEO -> recruit -> discuss -> execute -> evaluate.

A problem ends when the CEO says Stop (with a solution on the table), the evaluator says
correct, the solver produces nothing, or `max_turn` rounds have run; the result says which.
The final answer is the solver's last solution, whatever the evaluator said.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentverse.agents.agent import Agent
from agentverse.config.schema import TaskConfig
from agentverse.environments.tasksolving.rules.ceo import CEO_RULES
from agentverse.environments.tasksolving.rules.decision_maker import DECISION_MAKERS, Team
from agentverse.environments.tasksolving.rules.evaluator import EVALUATORS
from agentverse.environments.tasksolving.rules.executor import EXECUTORS
from agentverse.environments.tasksolving.rules.role_assigner import ROLE_ASSIGNERS
from agentverse.environments.tasksolving.state import ProblemState, RoundPlan
from agentverse.llms.client import LLMClient
from agentverse.trace import CallRecord, Observer, Trace, TraceEvent
from dataloader.base import Sample

Termination = Literal["ceo_stop", "evaluator_correct", "max_turn", "solver_failed", "single_agent"]


class AgentUsage(BaseModel):
    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


class ProblemResult(BaseModel):
    """Everything about one solved (or failed) problem; one line of a run's records file."""

    sample_id: str
    status: Literal["ok", "failed"]
    error: str | None = None
    final_answer: str | None
    termination: Termination
    rounds: int
    evaluator_correct: bool | None
    ceo_decisions: list[dict[str, Any]] = Field(default_factory=list)
    fallbacks: int = 0
    failed_calls: int = 0
    usage: dict[str, AgentUsage] = Field(default_factory=dict)
    wall_time_s: float
    calls: list[CallRecord] = Field(default_factory=list)
    events: list[TraceEvent] = Field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        return sum(usage.prompt_tokens + usage.completion_tokens for usage in self.usage.values())


def usage_by_agent(calls: list[CallRecord]) -> dict[str, AgentUsage]:
    usage: dict[str, AgentUsage] = {}
    for call in calls:
        entry = usage.setdefault(call.agent_type, AgentUsage())
        entry.calls += 1
        entry.failed_calls += call.status != "ok"
        entry.prompt_tokens += call.prompt_tokens
        entry.completion_tokens += call.completion_tokens
        entry.latency_s += call.latency_s
    return usage


class TaskSolvingEnvironment:
    """Runs problems with one config and one shared model client (safe to run many at once)."""

    def __init__(self, config: TaskConfig, llm: LLMClient) -> None:
        rule = config.environment.rule
        self.config = config
        self.llm = llm
        self.ceo = CEO_RULES.get(rule.ceo.type)
        self.assign_roles = ROLE_ASSIGNERS.get(rule.role_assigner.type)
        self.discuss = DECISION_MAKERS.get(rule.decision_maker.type)
        self.execute = EXECUTORS.get(rule.executor.type)
        self.evaluate = EVALUATORS.get(rule.evaluator.type)

    async def solve(self, sample: Sample, observer: Observer | None = None) -> ProblemResult:
        started = time.perf_counter()
        state = ProblemState(sample=sample, config=self.config, llm=self.llm, trace=Trace(observer))
        termination: Termination = "max_turn"
        rounds = 0
        for round_number in range(1, self.config.environment.max_turn + 1):
            state.trace.event(round_number, "round_start")
            plan = await self.ceo(state, round_number)
            state.trace.event(round_number, "ceo_decision", **plan.__dict__)
            if plan.decision == "stop" and self.stop_ends(state, round_number):
                termination = "ceo_stop"
                break
            rounds = round_number
            termination = await self.run_round(state, round_number, plan)
            if termination != "max_turn":
                break
        state.trace.event(rounds, "termination", reason=termination)
        return self.result(state, termination, rounds, time.perf_counter() - started)

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
        discussion = await self.discuss(team, self.config.environment.rule.decision_maker.max_inner_turns)
        if discussion.solution is None:
            return "solver_failed"
        state.solution = discussion.solution
        report = await self.execute(state, discussion.solution)
        state.trace.event(round_number, "executor", summary=report.summary, passed=report.passed)
        state.evaluation = await self.evaluate(state, round_number, discussion.solution, report)
        state.trace.event(round_number, "evaluation", **state.evaluation.model_dump())
        return "evaluator_correct" if state.evaluation.correct else "max_turn"

    def recruit(self, state: ProblemState, round_number: int, plan: RoundPlan) -> Team:
        """The solver keeps its memory across rounds; critics are recruited fresh each round."""
        if state.solver is None:
            state.solver = Agent(self.config.agent("solver"), self.llm, state.trace, role=state.roles[0])
        state.solver.role = state.roles[0]
        critic_config = self.config.agent("critic")
        critics = [
            Agent(
                critic_config.model_copy(update={"name": f"{critic_config.name} {index}"}),
                self.llm,
                state.trace,
                role=role,
            )
            for index, role in enumerate(state.roles[1:], start=1)
        ]
        return Team(state, round_number, plan, state.solver, critics)

    def result(self, state: ProblemState, termination: Termination, rounds: int, wall: float) -> ProblemResult:
        trace = state.trace
        failed = state.solution is None
        return ProblemResult(
            sample_id=state.sample.id,
            status="failed" if failed else "ok",
            error="the solver produced no solution" if failed else None,
            final_answer=state.solution,
            termination=termination,
            rounds=rounds,
            evaluator_correct=None if state.evaluation is None else state.evaluation.correct,
            ceo_decisions=[event.detail for event in trace.events if event.kind == "ceo_decision"],
            fallbacks=sum(event.kind == "fallback" for event in trace.events),
            failed_calls=sum(call.status != "ok" for call in trace.calls),
            usage=usage_by_agent(trace.calls),
            wall_time_s=wall,
            calls=trace.calls,
            events=trace.events,
        )
