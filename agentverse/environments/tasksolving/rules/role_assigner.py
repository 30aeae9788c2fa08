"""Expert recruitment: one role description per team member, the solver first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agentverse.agents.agent import Agent
from agentverse.environments.tasksolving.state import ProblemState, RoundPlan
from agentverse.registry import Registry

RoleAssigner = Callable[[ProblemState, int, RoundPlan], Awaitable[list[str]]]
ROLE_ASSIGNERS: Registry[RoleAssigner] = Registry("role_assigner")

GENERIC_SOLVER = "An expert problem solver who reasons step by step."
GENERIC_CRITIC = "A meticulous reviewer who checks every step for errors."


def generic_roles(count: int) -> list[str]:
    return [GENERIC_SOLVER] + [GENERIC_CRITIC] * (count - 1)


@ROLE_ASSIGNERS.register("role_description")
async def recruit_by_description(state: ProblemState, round_number: int, plan: RoundPlan) -> list[str]:
    agent = Agent(state.config.agent("role_assigner"), state.llm, state.trace)
    count = plan.recruit_number
    variables = {
        "task_description": state.sample.input,
        "advice": state.advice_text(),
        "cnt_agents": count,
        "cnt_critic_agents": count - 1,
    }
    outcome = await agent.step(round_number, variables, expected=count)
    if outcome.output is None:
        state.trace.event(round_number, "fallback", agent="role_assigner", error=outcome.error, used="generic roles")
        return generic_roles(count)
    return list(outcome.output.roles)
