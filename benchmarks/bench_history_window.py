"""How much the history window saves: the solver's 8th request when the critics never agree.

Two rounds of a never-agreeing discussion (2 critics, 3 review turns, the evaluator always says 0)
give the solver 8 calls. The 8th is measured with the research window (the solver's last 5
messages) and without one, on two configs:
- the research-format fixture imported in paper-exact mode (research-api layout), answered by
  the research code's recorded replies (tests/fixtures/research_format/api_never_agree.jsonl);
- our shipped math500/m1-32b config (turns layout) against the fake server.

    python benchmarks/bench_history_window.py
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from pathlib import Path
from typing import Any

from agentverse.config.loader import apply_overrides, load_task_config
from agentverse.config.research import convert_research_config
from agentverse.config.schema import TaskConfig
from agentverse.environments.tasksolving.environment import TaskSolvingEnvironment
from agentverse.llms.client import LLMClient
from agentverse.testing.fake_server import FakeOpenAIServer, FakeReply, Responder, ScriptedResponder
from agentverse.testing.replay import TranscriptReplay
from dataloader import load_samples
from dataloader.base import Sample

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "research_format"


def with_solver_window(config: TaskConfig, window: int | str | None) -> TaskConfig:
    agents = [
        agent.model_copy(update={"memory": agent.memory.model_copy(update={"window": window})})
        if agent.agent_type == "solver"
        else agent
        for agent in config.agents
    ]
    return config.model_copy(update={"agents": agents})


async def solver_requests(config: TaskConfig, responder: Responder, sample: Sample) -> list[dict[str, Any]]:
    async with FakeOpenAIServer(responder) as fake:
        config = apply_overrides(config, {"llm.base_urls": [fake.base_url], "llm.retry_backoff_s": 0.01}, "bench")
        llm = LLMClient.from_config(config.llm)
        try:
            await TaskSolvingEnvironment(config, llm).solve(sample)
        finally:
            await llm.aclose()
        # The solver's requests: those whose system prompt holds the longest fixed line of its template.
        lines = config.agent("solver").prepend_prompt_template.splitlines()
        marker = max((line for line in lines if "$" not in line), key=len)
        return [request.payload for request in fake.requests if marker in request.payload["messages"][0]["content"]]


def size(payload: dict[str, Any]) -> tuple[int, int]:
    messages = payload["messages"]
    return len(messages), sum(len(message["content"]) for message in messages)


async def research_case(window: int | str | None) -> tuple[int, int]:
    conversion = convert_research_config(FIXTURES / "math500_config.yaml", layout="api", benchmark="math500")
    sample = load_samples("math500", FIXTURES / "math_problems_1.jsonl", limit=1)[0]
    replay = TranscriptReplay.from_file(FIXTURES / "api_never_agree.jsonl")
    requests = await solver_requests(with_solver_window(conversion.config, window), replay, sample)
    return size(requests[7])


def never_agreeing() -> ScriptedResponder:
    counter = itertools.count(1)
    ceo = "### Decision: <Continue>\n### Recruit Number: 3\n### Direction: Recheck the sum.\n### Maximum Tokens: 4096"
    solver = [f"Draft {index}: adding the terms one by one gives \\boxed{{{50 + index}}}." for index in range(1, 9)]

    def critic(payload: dict[str, Any]) -> FakeReply:
        return FakeReply(f"Review {next(counter)}: the third term was added twice, so the sum is off. [Disagree]")

    evaluator = "### Correctness: 0\n### Advice: Recompute the sum.\n### Recruiting Suggestion: An algebraist."
    return ScriptedResponder(ceo=[ceo], solver=solver, critic=[critic], evaluator=[evaluator])


async def shipped_case(window: int | str | None) -> tuple[int, int]:
    config, _ = load_task_config(
        "tasksolving/math500/m1-32b", {"llm.model": "fake", "llm.thinking": False, "llm.context_length": 1_000_000}
    )
    sample = Sample(id="p", input="What is the sum of the first $10$ positive integers?", target="55")
    requests = await solver_requests(with_solver_window(config, window), never_agreeing(), sample)
    return size(requests[7])


async def main() -> None:
    print("the solver's 8th request, critics that never agree (messages, characters)")
    for name, case in (("research config, research-api", research_case), ("shipped math500, turns", shipped_case)):
        windowed, unlimited = await case(5), await case("all")
        print(
            f"  {name:32s} window 5: {windowed[0]:3d} messages {windowed[1]:6d} chars   "
            f"no window: {unlimited[0]:3d} messages {unlimited[1]:6d} chars"
        )


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    asyncio.run(main())
