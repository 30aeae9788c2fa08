#!/usr/bin/env python
"""Are the servers kept full? Wall time against the ideal, at the shipped defaults and on replicas.

The fake servers run in their own processes and batch like a GPU server: a reply takes its
tokens x the step time, and the step grows slowly with the requests in flight. Every problem
follows the 13-call dialogue of the research transcript api_2rounds (two rounds, a disagreeing
critic, two critics in round 2). The ideal is the longest problem's own chain of calls in the
same run: no schedule finishes before it.

1. 128 problems against one server at the shipped defaults of tasksolving/math500/m1-32b
   (the per-endpoint cap, and problems in flight = the summed caps): wall / ideal.
2. The same work on 1, 2 and 4 replicas named in an endpoints file: wall / ideal and the peak
   requests in flight on each replica.

Usage: python benchmarks/bench_scale.py [--problems 128] [--step-time 0.002] [--slowdown-per-request 0.002]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from pathlib import Path

from bench_runner import start_server as runner_server  # a sibling script

from agentverse.config.loader import load_task_config
from agentverse.runs.runner import run_benchmark
from agentverse.runs.store import RunDirectory
from agentverse.testing.machine import free_port
from dataloader.base import Sample


def start_server(step_time: float, slowdown: float, pad_words: int) -> tuple[subprocess.Popen[str], str]:
    """bench_runner's GPU-like fake server on a free port, answering the two-round dialogue."""
    port = free_port()
    return runner_server(port, step_time, slowdown, pad_words, "two-rounds"), f"http://127.0.0.1:{port}/v1"


async def timed_run(endpoints: list[str], samples: list[Sample], folder: Path, cap: int | None) -> dict[str, object]:
    endpoints_file = folder / "endpoints.txt"
    folder.mkdir(parents=True)
    endpoints_file.write_text("\n".join(endpoints) + "\n")
    overrides: dict[str, object] = {
        "llm.endpoints_file": str(endpoints_file),
        "llm.thinking": False,
        "llm.model": "fake",
    }
    if cap is not None:
        overrides["llm.max_concurrency"] = cap
    config, _ = load_task_config("tasksolving/math500/m1-32b", overrides)
    run_dir = RunDirectory(folder / "run")
    run_dir.prepare(config)
    started = time.perf_counter()
    stats = await run_benchmark(config, samples, run_dir, progress=False)  # the defaults: nothing set
    wall = time.perf_counter() - started
    assert stats.errors == 0 and stats.done == len(samples), stats.error_messages[:3]
    records = run_dir.latest_records().values()
    calls = {sum(usage.calls for usage in record.result.usage.values()) for record in records if record.result}
    ideal = max(record.result.wall_time_s for record in records if record.result)
    loads = run_dir.read_load()
    return {
        "replicas": len(endpoints),
        "problems": len(samples),
        "calls_per_problem": sorted(calls),
        "cap_per_endpoint": config.llm.cap(),
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "wall / ideal": round(wall / ideal, 3),
        "peak_in_flight_per_replica": [load.peak_in_flight for load in loads],
        "mean_in_flight_per_replica": [load.mean_in_flight for load in loads],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=128)
    parser.add_argument("--step-time", type=float, default=0.002, help="Seconds per token of one sequence.")
    parser.add_argument("--slowdown-per-request", type=float, default=0.002, help="Step-time growth per request.")
    parser.add_argument("--pad-words", type=int, default=100, help="Tokens of reasoning before each reply.")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--max-concurrency", type=int, help="Per-endpoint cap instead of the shipped one (e.g. 64).")
    args = parser.parse_args()
    samples = [
        Sample(id=f"p{index}", input=f"Problem {index}: what is {index} + 42?", target=str(index + 42))
        for index in range(args.problems)
    ]
    servers = [
        start_server(args.step_time, args.slowdown_per_request, args.pad_words) for _ in range(max(args.replicas))
    ]
    results = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for count in args.replicas:
                endpoints = [url for _, url in servers[:count]]
                folder = Path(scratch) / f"replicas-{count}"
                results.append(asyncio.run(timed_run(endpoints, samples, folder, args.max_concurrency)))
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
