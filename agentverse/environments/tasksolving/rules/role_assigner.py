"""Expert recruitment: one role description per team member, the solver first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agentverse.agents.agent import Agent
from agentverse.config.schema import AgentConfig, RoleAssignerRuleConfig
from agentverse.environments.tasksolving.state import ProblemState, RoundPlan
from agentverse.llms.client import LLMClient
from agentverse.registry import Registry

RoleAssigner = Callable[[ProblemState, int, RoundPlan], Awaitable[list[str]]]
# Built once per environment with its config section, its agent's config and the model client.
RoleAssignerFactory = Callable[[RoleAssignerRuleConfig, AgentConfig, LLMClient], RoleAssigner]
ROLE_ASSIGNERS: Registry[RoleAssignerFactory] = Registry("role_assigner")

GENERIC_SOLVER = "An expert problem solver who reasons step by step."
GENERIC_CRITIC = "A meticulous reviewer who checks every step for errors."


def generic_roles(count: int) -> list[str]:
    return [GENERIC_SOLVER] + [GENERIC_CRITIC] * (count - 1)


@ROLE_ASSIGNERS.register("role_description")
def recruit_by_description(rule: RoleAssignerRuleConfig, agent_config: AgentConfig, llm: LLMClient) -> RoleAssigner:
    async def assign(state: ProblemState, round_number: int, plan: RoundPlan) -> list[str]:
        return await recruit(Agent(agent_config, llm, state.trace), state, round_number, plan)

    return assign


async def recruit(agent: Agent, state: ProblemState, round_number: int, plan: RoundPlan) -> list[str]:
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
