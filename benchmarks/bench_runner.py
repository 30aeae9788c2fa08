#!/usr/bin/env python
"""Wall time of a 64-problem run: sequential (as the research code ran) vs many problems in flight.

The fake server (a separate process) behaves like a batching GPU server: a reply takes
tokens x step time, and the step time grows slowly with the number of requests in flight.
The ideal for the concurrent run is the longest single problem's chain of calls, measured
in the sequential run.

Usage: python benchmarks/bench_runner.py [--problems 64] [--concurrency 64] [--step-time 0.002] [--pad-words 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentverse.config.loader import load_task_config
from agentverse.runs.runner import run_benchmark
from agentverse.runs.store import RunDirectory
from agentverse.testing.machine import free_port
from dataloader.base import Sample


def start_server(
    port: int, step_time: float, slowdown: float, pad_words: int, dialogue: str = "cooperative"
) -> subprocess.Popen:
    """The GPU-like fake server in its own process, once it serves (`dialogue`: see its --dialogue)."""
    command = [
        sys.executable,
        "-m",
        "agentverse.testing.fake_server",
        "--port",
        str(port),
        "--step-time",
        str(step_time),
        "--slowdown-per-request",
        str(slowdown),
        "--pad-words",
        str(pad_words),
        "--dialogue",
        dialogue,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.readline()
    return process


async def timed_run(base_url: str, samples: list[Sample], concurrency: int, folder: Path) -> tuple[float, float]:
    config, _ = load_task_config(
        "tasksolving/math500/m1-32b",
        {"llm.base_urls": [base_url], "llm.thinking": False, "llm.max_concurrency": 256, "llm.model": "fake"},
    )
    run_dir = RunDirectory(folder)
    run_dir.prepare(config)
    started = time.perf_counter()
    stats = await run_benchmark(config, samples, run_dir, concurrency=concurrency, progress=False)
    wall = time.perf_counter() - started
    assert stats.errors == 0 and stats.done == len(samples), stats.error_messages[:3]
    longest = max(record.result.wall_time_s for record in run_dir.latest_records().values() if record.result)
    return wall, longest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--step-time", type=float, default=0.002, help="Seconds per token of one sequence.")
    parser.add_argument("--slowdown-per-request", type=float, default=0.002, help="Step-time growth per request.")
    parser.add_argument("--pad-words", type=int, default=100, help="Tokens of reasoning before each reply.")
    args = parser.parse_args()
    samples = [
        Sample(id=f"p{index}", input=f"Problem {index}: what is {index} + 42?", target=str(index + 42))
        for index in range(args.problems)
    ]
    port = free_port()
    server = start_server(port, args.step_time, args.slowdown_per_request, args.pad_words)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        with tempfile.TemporaryDirectory() as scratch:
            sequential, ideal = asyncio.run(timed_run(base_url, samples, 1, Path(scratch) / "sequential"))
            concurrent, _ = asyncio.run(timed_run(base_url, samples, args.concurrency, Path(scratch) / "concurrent"))
    finally:
        server.terminate()
        server.wait()
    figures = {
        "problems": args.problems,
        "sequential_s": round(sequential, 2),
        f"concurrency_{args.concurrency}_s": round(concurrent, 2),
        "speedup": round(sequential / concurrent, 1),
        "ideal_s (longest single chain)": round(ideal, 2),
        "concurrent / ideal": round(concurrent / ideal, 2),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
