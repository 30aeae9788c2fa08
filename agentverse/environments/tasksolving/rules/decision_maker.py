"""How the recruited team discusses: the solver drafts, critics review, the solver revises.

`vertical-solver-first` is the paper's structure. The others are AgentVerse's alternatives:
`vertical` (critics advise before the first draft), `horizontal` (critics speak in turn,
each seeing the earlier reviews), `concurrent` (one concurrent review, one revision) and
`brainstorming` (critics brainstorm in turn, then the solver writes once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from agentverse.agents.agent import Agent
from agentverse.agents.memory import Message
from agentverse.agents.output_parsers import CriticVerdict
from agentverse.config.schema import DecisionMakerRuleConfig
from agentverse.environments.tasksolving.state import ProblemState, RoundPlan
from agentverse.registry import Registry

Result = TypeVar("Result")
NO_CRITIQUES = "No reviews yet."
NO_DIRECTION = "None given."
NO_DRAFT = "No draft yet: share the approach and the pitfalls you would watch for."


@dataclass(frozen=True)
class Discussion:
    solution: str | None  # the solver's last message; None when the solver produced nothing
    consensus: bool
    inner_turns: int


@dataclass
class Team:
    """The members of one round and what the discussion needs to address them.

    What members say reaches the others through their memories: each draft goes to the whole
    team, each critique that disagrees to the solver and (with `share_critiques`, as in the
    method) to every critic, its author included. Agreements are not broadcast.
    """

    state: ProblemState
    round_number: int
    plan: RoundPlan
    solver: Agent
    critics: list[Agent]
    share_critiques: bool = True

    def base_variables(self) -> dict[str, str]:
        return {
            "task_description": self.state.sample.input,
            "direction": self.plan.direction or NO_DIRECTION,
        }

    def broadcast(self, message: Message, members: list[Agent] | None = None) -> None:
        for member in members if members is not None else [self.solver, *self.critics]:
            member.receive(message)

    async def write(self, critiques: str) -> str | None:
        variables = {**self.base_variables(), "advice": self.state.advice_text(), "critiques": critiques}
        outcome = await self.solver.step(self.round_number, variables, max_tokens=self.plan.max_tokens)
        if outcome.output is None:
            self.state.trace.event(self.round_number, "agent_failed", agent="solver", error=outcome.error)
            return None
        self.state.trace.event(self.round_number, "solution", text=outcome.output.text)
        self.broadcast(self.solver.message(outcome.output.text))
        return outcome.output.text

    async def advise(self, review: Reviewer) -> list[CriticVerdict | None]:
        """Critics advise before any draft: the solver's request for advice joins the memories first."""
        self.broadcast(self.solver.message(NO_DRAFT))
        return await review(NO_DRAFT)

    async def review_one(self, critic: Agent, solution: str) -> CriticVerdict | None:
        variables = {**self.base_variables(), "solution": solution}
        outcome = await critic.step(self.round_number, variables, max_tokens=self.plan.max_tokens)
        if not outcome.ok:
            self.state.trace.event(self.round_number, "agent_failed", agent=critic.name, error=outcome.error)
            return None
        return outcome.output

    async def review_in_turn(self, solution: str) -> list[CriticVerdict | None]:
        """Critics speak one after another; each disagreeing review reaches the next ones' memories."""
        verdicts: list[CriticVerdict | None] = []
        for critic in self.critics:
            verdict = await self.review_one(critic, solution)
            verdicts.append(verdict)
            self.share(critic, verdict)
        self.record(verdicts)
        return verdicts

    async def review_concurrently(self, solution: str) -> list[CriticVerdict | None]:
        verdicts = await gather_or_cancel([self.review_one(critic, solution) for critic in self.critics])
        for critic, verdict in zip(self.critics, verdicts, strict=True):
            self.share(critic, verdict)  # in critic order, once all have spoken
        self.record(verdicts)
        return verdicts

    def share(self, critic: Agent, verdict: CriticVerdict | None) -> None:
        """A critique that disagrees reaches the solver and (`share_critiques`) every critic."""
        if verdict is not None and not verdict.agree and verdict.review:
            self.broadcast(critic.message(verdict.review), None if self.share_critiques else [self.solver, critic])

    def record(self, verdicts: list[CriticVerdict | None]) -> None:
        summary = [None if verdict is None else verdict.agree for verdict in verdicts]
        self.state.trace.event(self.round_number, "critic_verdicts", agree=summary)


async def gather_or_cancel(calls: list[Coroutine[Any, Any, Result]]) -> list[Result]:
    """Run calls concurrently; when one raises (an infrastructure failure ends the problem), the
    others are cancelled instead of running on unobserved."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def all_agree(verdicts: list[CriticVerdict | None]) -> bool:
    return all(verdict is not None and verdict.agree for verdict in verdicts)


def disagreements(verdicts: list[CriticVerdict | None]) -> str:
    """The critiques that disagree and say something (a bare `[Disagree]` gives nothing to act on)."""
    return "\n\n".join(
        verdict.review for verdict in verdicts if verdict is not None and not verdict.agree and verdict.review
    )


Reviewer = Callable[[str], Awaitable[list[CriticVerdict | None]]]


async def review_loop(team: Team, solution: str, review: Reviewer, max_turns: int) -> Discussion:
    """Review, and revise on disagreement, until consensus or `max_turns` reviews."""
    for turn in range(1, max_turns + 1):
        if not team.critics:
            return Discussion(solution, consensus=False, inner_turns=turn - 1)
        verdicts = await review(solution)
        if all_agree(verdicts):
            team.state.trace.event(team.round_number, "consensus", inner_turn=turn)
            return Discussion(solution, consensus=True, inner_turns=turn)
        critiques = disagreements(verdicts)
        if not critiques:  # the reviewers that answered agreed, the others failed: nothing to act on
            return Discussion(solution, consensus=False, inner_turns=turn)
        revised = await team.write(critiques)
        if revised is None:
            return Discussion(solution, consensus=False, inner_turns=turn)
        solution = revised
    return Discussion(solution, consensus=False, inner_turns=max_turns)


DecisionMaker = Callable[[Team], Awaitable[Discussion]]
# Built once per environment from its config section (`max_inner_turns`); called per round.
DecisionMakerFactory = Callable[[DecisionMakerRuleConfig], DecisionMaker]
DECISION_MAKERS: Registry[DecisionMakerFactory] = Registry("decision_maker")


def notes_from(verdicts: list[CriticVerdict | None]) -> str:
    return "\n\n".join(verdict.review for verdict in verdicts if verdict is not None) or NO_CRITIQUES


async def draft_and_review(team: Team, notes: str, review: Reviewer, max_turns: int) -> Discussion:
    draft = await team.write(notes)
    if draft is None:
        return Discussion(None, consensus=False, inner_turns=0)
    return await review_loop(team, draft, review, max_turns)


@DECISION_MAKERS.register("vertical-solver-first")
def vertical_solver_first(rule: DecisionMakerRuleConfig) -> DecisionMaker:
    async def discuss(team: Team) -> Discussion:
        return await draft_and_review(team, NO_CRITIQUES, team.review_concurrently, rule.max_inner_turns)

    return discuss


@DECISION_MAKERS.register("vertical")
def vertical(rule: DecisionMakerRuleConfig) -> DecisionMaker:
    async def discuss(team: Team) -> Discussion:
        advice = await team.advise(team.review_concurrently)
        return await draft_and_review(team, notes_from(advice), team.review_concurrently, rule.max_inner_turns)

    return discuss


@DECISION_MAKERS.register("horizontal")
def horizontal(rule: DecisionMakerRuleConfig) -> DecisionMaker:
    async def discuss(team: Team) -> Discussion:
        return await draft_and_review(team, NO_CRITIQUES, team.review_in_turn, rule.max_inner_turns)

    return discuss


@DECISION_MAKERS.register("concurrent")
def concurrent(rule: DecisionMakerRuleConfig) -> DecisionMaker:
    async def discuss(team: Team) -> Discussion:
        return await draft_and_review(team, NO_CRITIQUES, team.review_concurrently, 1)

    return discuss


@DECISION_MAKERS.register("brainstorming")
def brainstorming(rule: DecisionMakerRuleConfig) -> DecisionMaker:
    async def discuss(team: Team) -> Discussion:
        ideas = await team.advise(team.review_in_turn)
        solution = await team.write(notes_from(ideas))
        return Discussion(solution, consensus=False, inner_turns=1 if solution is not None else 0)

    return discuss
