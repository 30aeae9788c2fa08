"""The evaluator judges the solution (it never sees the ground truth) and advises the next round."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agentverse.agents.agent import Agent
from agentverse.agents.output_parsers import EvaluatorVerdict
from agentverse.config.schema import AgentConfig, EvaluatorRuleConfig
from agentverse.environments.tasksolving.state import ExecutorReport, ProblemState
from agentverse.llms.client import LLMClient
from agentverse.registry import Registry

# None: the evaluator's reply could not be read. The problem then has no verdict
# (`evaluator_correct: null`, never false), and the next round is told there was no evaluation.
Evaluator = Callable[[ProblemState, int, str, ExecutorReport], Awaitable[EvaluatorVerdict | None]]
# Built once per environment with its config section, its agent's config and the model client.
EvaluatorFactory = Callable[[EvaluatorRuleConfig, AgentConfig, LLMClient], Evaluator]
EVALUATORS: Registry[EvaluatorFactory] = Registry("evaluator")


def describe_team(roles: list[str]) -> str:
    """The experts' lines, one per line (the research code's `all_role_description`)."""
    return "\n".join(roles)


@EVALUATORS.register("basic")
def basic_evaluator(rule: EvaluatorRuleConfig, agent_config: AgentConfig, llm: LLMClient) -> Evaluator:
    async def evaluate(
        state: ProblemState, round_number: int, solution: str, report: ExecutorReport
    ) -> EvaluatorVerdict | None:
        return await judge_solution(Agent(agent_config, llm, state.trace), state, round_number, solution, report)

    return evaluate


async def judge_solution(
    agent: Agent, state: ProblemState, round_number: int, solution: str, report: ExecutorReport
) -> EvaluatorVerdict | None:
    variables = {
        "task_description": state.sample.input,
        "solution": solution,
        "result": report.summary,
        "all_role_description": describe_team(state.roles),
    }
    outcome = await agent.step(round_number, variables)
    if not outcome.ok:
        state.trace.event(round_number, "fallback", agent="evaluator", error=outcome.error, used="no verdict")
        return None
    return outcome.output
