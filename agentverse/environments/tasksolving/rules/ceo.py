"""The CEO rule: each round, decide continue/stop, team size, direction and token budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from agentverse.agents.agent import Agent
from agentverse.agents.output_parsers import CEODecision
from agentverse.config.schema import AgentConfig, CEORuleConfig
from agentverse.environments.tasksolving.state import ProblemState, RoundPlan
from agentverse.llms.client import LLMClient
from agentverse.registry import Registry

CEORule = Callable[[ProblemState, int], Awaitable[RoundPlan]]
# Built once per environment: its config section, the CEO agent's config (None without a CEO),
# the model client, and the team size used when there is no decision to follow.
CEOFactory = Callable[[CEORuleConfig, AgentConfig | None, LLMClient, int], CEORule]
CEO_RULES: Registry[CEOFactory] = Registry("ceo")
NO_RESOURCES = "No resources yet."


def snap_to_menu(value: int, menu: list[int]) -> int:
    """The closest menu entry (the larger one on a tie)."""
    return min(menu, key=lambda entry: (abs(entry - value), -entry))


def validate_decision(decision: CEODecision, rule: CEORuleConfig) -> tuple[RoundPlan, dict[str, object]]:
    """Clamp the CEO's numbers to the configured bounds and menu; report what changed."""
    recruits = max(decision.recruit_number, rule.min_recruits)
    if rule.max_recruits is not None:
        recruits = min(recruits, rule.max_recruits)
    if rule.budget == "menu":
        budget = snap_to_menu(decision.max_tokens, list(rule.token_menu))
    else:
        low, high = rule.token_range
        budget = min(max(decision.max_tokens, low), high)
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
        return NO_RESOURCES
    budget = state.plan.max_tokens if state.plan.max_tokens is not None else "default"
    return f"recruit_number: {state.plan.recruit_number}, maximum_tokens: {budget}"


def fixed_plan(team_size: int, source: Literal["fallback", "fixed"]) -> RoundPlan:
    return RoundPlan(decision="continue", recruit_number=team_size, direction="", max_tokens=None, source=source)


@CEO_RULES.register("basic")
def basic_ceo(rule: CEORuleConfig, agent_config: AgentConfig | None, llm: LLMClient, team_size: int) -> CEORule:
    if agent_config is None:
        raise ValueError("the basic CEO needs an agent of type ceo")  # the config schema already requires it
    ceo_agent = agent_config

    async def decide(state: ProblemState, round_number: int) -> RoundPlan:
        agent = Agent(ceo_agent, llm, state.trace)
        return await plan_round(agent, rule, team_size, state, round_number)

    return decide


async def plan_round(
    agent: Agent, rule: CEORuleConfig, team_size: int, state: ProblemState, round_number: int
) -> RoundPlan:
    variables = {
        "task_description": state.sample.input,
        "solution": state.solution or "No solution yet.",
        "advice": state.advice_text(),
        "resources": resources_text(state),
        "max_recruits": rule.max_recruits if rule.max_recruits is not None else "as many as needed",
        "token_menu": ", ".join(str(entry) for entry in rule.token_menu),
    }
    outcome = await agent.step(round_number, variables)
    if outcome.output is None:
        state.trace.event(round_number, "fallback", agent="ceo", error=outcome.error, used="configured team/budget")
        return fixed_plan(team_size, "fallback")
    plan, clamped = validate_decision(outcome.output, rule)
    if clamped:
        state.trace.event(round_number, "ceo_clamped", **clamped)
    return plan


@CEO_RULES.register("none")
def no_ceo(rule: CEORuleConfig, agent_config: AgentConfig | None, llm: LLMClient, team_size: int) -> CEORule:
    """The paper's "without CEO" baseline: a fixed team and each agent's configured budget."""

    async def decide(state: ProblemState, round_number: int) -> RoundPlan:
        return fixed_plan(team_size, "fixed")

    return decide
