"""The evaluator judges the solution (it never sees the ground truth) and advises the next round."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agentverse.agents.agent import Agent
from agentverse.agents.output_parsers import EvaluatorVerdict
from agentverse.environments.tasksolving.state import ExecutorReport, ProblemState
from agentverse.registry import Registry

# None: the evaluator's reply could not be read. The problem then has no verdict
# (`evaluator_correct: null`, never false), and the next round is told there was no evaluation.
Evaluator = Callable[[ProblemState, int, str, ExecutorReport], Awaitable[EvaluatorVerdict | None]]
EVALUATORS: Registry[Evaluator] = Registry("evaluator")


def describe_team(roles: list[str]) -> str:
    return "\n".join(f"{index}. {role}" for index, role in enumerate(roles, start=1))


@EVALUATORS.register("basic")
async def basic_evaluator(
    state: ProblemState, round_number: int, solution: str, report: ExecutorReport
) -> EvaluatorVerdict | None:
    agent = Agent(state.config.agent("evaluator"), state.llm, state.trace)
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
