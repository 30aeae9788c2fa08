"""The single-agent baseline: one solver call on the same prompt, no CEO, no critics, no evaluator."""

from __future__ import annotations

import time

from agentverse.agents.agent import Agent
from agentverse.config.schema import TaskConfig
from agentverse.environments.tasksolving.environment import ProblemResult, usage_by_agent
from agentverse.llms.client import LLMClient
from agentverse.trace import Observer, Trace
from dataloader.base import Sample


class SingleAgentEnvironment:
    def __init__(self, config: TaskConfig, llm: LLMClient) -> None:
        self.config = config
        self.llm = llm

    async def solve(self, sample: Sample, observer: Observer | None = None) -> ProblemResult:
        started = time.perf_counter()
        trace = Trace(observer)
        solver = Agent(self.config.agent("solver"), self.llm, trace)
        variables = {
            "task_description": sample.input,
            "direction": "None given.",
            "advice": "No advice yet.",
            "critiques": "No reviews yet.",
        }
        outcome = await solver.step(1, variables)
        solution = outcome.output.text if outcome.ok else None
        trace.event(1, "termination", reason="single_agent")
        return ProblemResult(
            sample_id=sample.id,
            status="ok" if solution is not None else "failed",
            error=None if solution is not None else f"the solver produced no solution ({outcome.error})",
            final_answer=solution,
            termination="single_agent",
            rounds=1,
            evaluator_correct=None,
            failed_calls=sum(call.status != "ok" for call in trace.calls),
            usage=usage_by_agent(trace.calls),
            wall_time_s=time.perf_counter() - started,
            calls=trace.calls,
            events=trace.events,
        )
