"""The CEO rule: each round, decide continue/stop, team size, direction and token budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from agentverse.agents.agent import Agent
from agentverse.agents.output_parsers import CEODecision
from agentverse.config.schema import CEORuleConfig
from agentverse.environments.tasksolving.state import ProblemState, RoundPlan
from agentverse.registry import Registry

CEORule = Callable[[ProblemState, int], Awaitable[RoundPlan]]
CEO_RULES: Registry[CEORule] = Registry("ceo")


def snap_to_menu(value: int, menu: list[int]) -> int:
    """The closest menu entry (the larger one on a tie)."""
    return min(menu, key=lambda entry: (abs(entry - value), -entry))


def validate_decision(decision: CEODecision, rule: CEORuleConfig) -> tuple[RoundPlan, dict[str, object]]:
    """Clamp the CEO's numbers to the configured bounds and menu; report what changed."""
    recruits = min(max(decision.recruit_number, rule.min_recruits), rule.max_recruits)
    budget = snap_to_menu(decision.max_tokens, list(rule.token_menu))
    clamped: dict[str, object] = {}
    if recruits != decision.recruit_number:
        clamped["recruit_number"] = {"asked": decision.recruit_number, "used": recruits}
    if budget != decision.max_tokens:
        clamped["max_tokens"] = {"asked": decision.max_tokens, "used": budget}
    plan = RoundPlan(
        decision=decision.decision,
        recruit_number=recruits,
        direction=decision.direction,
        max_tokens=budget,
        source="ceo",
    )
    return plan, clamped


def resources_text(state: ProblemState) -> str:
    if state.plan is None:
        return "None yet."
    budget = state.plan.max_tokens if state.plan.max_tokens is not None else "default"
    return f"recruit_number: {state.plan.recruit_number}, maximum_tokens: {budget}"


def fixed_plan(state: ProblemState, source: Literal["fallback", "fixed"]) -> RoundPlan:
    team = state.config.environment.rule.role_assigner.cnt_agents
    return RoundPlan(decision="continue", recruit_number=team, direction="", max_tokens=None, source=source)


@CEO_RULES.register("basic")
async def basic_ceo(state: ProblemState, round_number: int) -> RoundPlan:
    rule = state.config.environment.rule.ceo
    agent = Agent(state.config.agent("ceo"), state.llm, state.trace)
    variables = {
        "task_description": state.sample.input,
        "solution": state.solution or "No solution yet.",
        "advice": state.advice_text(),
        "resources": resources_text(state),
        "max_recruits": rule.max_recruits,
        "token_menu": ", ".join(str(entry) for entry in rule.token_menu),
    }
    outcome = await agent.step(round_number, variables)
    if outcome.output is None:
        plan = fixed_plan(state, "fallback")
        state.trace.event(round_number, "fallback", agent="ceo", error=outcome.error, used="configured team/budget")
        return plan
    plan, clamped = validate_decision(outcome.output, rule)
    if clamped:
        state.trace.event(round_number, "ceo_clamped", **clamped)
    return plan


@CEO_RULES.register("none")
async def no_ceo(state: ProblemState, round_number: int) -> RoundPlan:
    """The paper's "without CEO" baseline: a fixed team and each agent's configured budget."""
    return fixed_plan(state, "fixed")
