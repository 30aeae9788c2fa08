"""The evaluator judges the solution (it never sees the ground truth) and advises the next round."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agentverse.agents.agent import Agent
from agentverse.agents.output_parsers import EvaluatorVerdict
from agentverse.environments.tasksolving.state import ExecutorReport, ProblemState
from agentverse.registry import Registry

Evaluator = Callable[[ProblemState, int, str, ExecutorReport], Awaitable[EvaluatorVerdict]]
EVALUATORS: Registry[Evaluator] = Registry("evaluator")

# The fallback when the evaluator's reply cannot be read: "not correct", and a plain note
# instead of advice, so the next round's CEO knows there was no evaluation.
NOT_JUDGED = EvaluatorVerdict(
    correct=False, advice="The evaluation failed: no advice is available.", recruiting_suggestion=""
)


def describe_team(roles: list[str]) -> str:
    return "\n".join(f"{index}. {role}" for index, role in enumerate(roles, start=1))


@EVALUATORS.register("basic")
async def basic_evaluator(
    state: ProblemState, round_number: int, solution: str, report: ExecutorReport
) -> EvaluatorVerdict:
    agent = Agent(state.config.agent("evaluator"), state.llm, state.trace)
    variables = {
        "task_description": state.sample.input,
        "solution": solution,
        "result": report.summary,
        "all_role_description": describe_team(state.roles),
    }
    outcome = await agent.step(round_number, variables)
    if not outcome.ok:
        state.trace.event(round_number, "fallback", agent="evaluator", error=outcome.error, used="not correct")
        return NOT_JUDGED
    return outcome.output
