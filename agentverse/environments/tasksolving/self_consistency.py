"""The self-consistency baseline: k independent solver samples, and a majority vote on the answer.

The samples are the single agent's call, made k times at the config's temperature (named
`Solver 1` ... `Solver k`, each with its own seed when the run has one, so that the first j of
them are the maj@j answer: a sweep reuses them instead of sampling again). The vote compares the
extracted, normalized answers and never looks at the target (see `agentverse.graders.vote`); the
answer kept is the winning class's first sample. An infrastructure failure of any sample ends the problem as an error.
"""

from __future__ import annotations

import time

from agentverse.agents.agent import Agent, InfrastructureFailure
from agentverse.config.schema import AgentConfig, TaskConfig
from agentverse.environments.tasksolving.environment import ProblemResult
from agentverse.environments.tasksolving.rules.decision_maker import gather_or_cancel
from agentverse.environments.tasksolving.single_agent import solver_variables
from agentverse.graders.vote import vote
from agentverse.llms.client import LLMClient
from agentverse.llms.pool import ModelPool
from agentverse.trace import Observer, Trace
from dataloader.base import Sample

SEEDS_PER_RUN = 1000  # sample i of a run seeded s gets seed s * 1000 + i


def sample_name(index: int) -> str:
    return f"Solver {index}"


def sample_solver(solver: AgentConfig, index: int) -> AgentConfig:
    """Sample `index` of k: its own name and, when the run is seeded, its own seed (k samples with
    one seed would be one sample k times on a server that honours seeds)."""
    seed = solver.llm.seed
    llm = solver.llm if seed is None else solver.llm.model_copy(update={"seed": seed * SEEDS_PER_RUN + index})
    return solver.model_copy(update={"name": sample_name(index), "llm": llm})


class SelfConsistencyEnvironment:
    def __init__(self, config: TaskConfig, models: LLMClient | ModelPool, samples: int) -> None:
        self.config = config
        self.llm = ModelPool.of(models).for_agent(config.agent("solver"))
        self.samples = samples
        solver = config.agent("solver")
        self.solvers = [sample_solver(solver, index) for index in range(1, samples + 1)]

    async def solve(self, sample: Sample, observer: Observer | None = None) -> ProblemResult:
        started = time.perf_counter()
        trace = Trace(observer)
        variables = solver_variables(sample)
        agents = [Agent(solver, self.llm, trace) for solver in self.solvers]
        try:
            outcomes = await gather_or_cancel([agent.step(1, variables) for agent in agents])
        except InfrastructureFailure as failure:
            trace.event(1, "infrastructure_error", agent=failure.agent, error=failure.cause)
            return self.result(sample, trace, None, started, error=str(failure))
        texts = [outcome.output.text if outcome.output is not None else None for outcome in outcomes]
        chosen = vote(self.config.task.kind, texts)
        trace.event(1, "vote", samples=len(texts), answered=sum(text is not None for text in texts), chosen=chosen)
        return self.result(sample, trace, texts[chosen] if chosen is not None else None, started)

    def result(
        self, sample: Sample, trace: Trace, answer: str | None, started: float, error: str | None = None
    ) -> ProblemResult:
        trace.event(1, "termination", reason="error" if error is not None else "self_consistency")
        return ProblemResult.from_trace(
            sample.id,
            trace,
            termination="error" if error is not None else "self_consistency",
            rounds=1,
            wall_time_s=time.perf_counter() - started,
            final_answer=answer,
            error=error,
        )
