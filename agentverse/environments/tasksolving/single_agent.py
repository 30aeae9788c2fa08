"""The single-agent baseline: one solver call on the same prompt, no CEO, no critics, no evaluator."""

from __future__ import annotations

import time

from agentverse.agents.agent import Agent, InfrastructureFailure
from agentverse.config.schema import TaskConfig
from agentverse.environments.tasksolving.environment import ProblemResult, Termination
from agentverse.llms.client import LLMClient
from agentverse.llms.pool import ModelPool
from agentverse.trace import Observer, Trace
from dataloader.base import Sample


def solver_variables(sample: Sample) -> dict[str, str]:
    """The solver's prompt values when it works alone: no direction, advice or reviews."""
    return {
        "task_description": sample.input,
        "direction": "None given.",
        "advice": "No advice yet.",
        "critiques": "No reviews yet.",
    }


class SingleAgentEnvironment:
    def __init__(self, config: TaskConfig, models: LLMClient | ModelPool) -> None:
        self.config = config
        self.llm = ModelPool.of(models).for_agent(config.agent("solver"))

    async def solve(self, sample: Sample, observer: Observer | None = None) -> ProblemResult:
        started = time.perf_counter()
        trace = Trace(observer)
        solver = Agent(self.config.agent("solver"), self.llm, trace)
        try:
            outcome = await solver.step(1, solver_variables(sample))
        except InfrastructureFailure as failure:
            trace.event(1, "infrastructure_error", agent=failure.agent, error=failure.cause)
            return self.result(sample, trace, None, started, error=str(failure))
        solution = outcome.output.text if outcome.output is not None else None
        return self.result(sample, trace, solution, started)

    def result(
        self, sample: Sample, trace: Trace, solution: str | None, started: float, error: str | None = None
    ) -> ProblemResult:
        """A solver that cannot produce a readable solution has answered nothing (ok, no_answer)."""
        termination: Termination = "error" if error is not None else "single_agent"
        trace.event(1, "termination", reason=termination)
        return ProblemResult.from_trace(
            sample.id,
            trace,
            termination=termination,
            rounds=1,
            wall_time_s=time.perf_counter() - started,
            final_answer=solution,
            error=error,
        )
