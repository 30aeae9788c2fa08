#!/usr/bin/env python
"""A sweep runs its points at once: its wall time against the sum of its points run alone, and
against the longest point alone (target: within 1.3x of the longest).

The sweep: tasksolving/math500/m1-32b, environment.max_turn [1, 2, 3] x environment.rule.ceo.type
[basic, none] (6 points), with a matched single agent per point and self-consistency k [1, 4],
on 32 problems, against the GPU-like fake server of benchmarks/bench_runner.py (a separate
process) answering the 13-call dialogue of the research transcript api_2rounds.

Usage: python benchmarks/bench_sweep.py [--problems 32] [--step-time 0.002] [--pad-words 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path

from bench_scale import start_server

from agentverse.config.loader import load_task_config
from agentverse.sweeps.run import Sweep
from agentverse.sweeps.spec import SweepSpec
from dataloader.base import Sample

GRID = {"environment.max_turn": [1, 2, 3], "environment.rule.ceo.type": ["basic", "none"]}
BASELINES = {"single_agent": {"match": "tokens"}, "self_consistency": {"k": [1, 4]}}


async def timed(spec: SweepSpec, base_url: str, samples: list[Sample], out: Path, only: str | None = None) -> float:
    overrides = {"llm.base_urls": [base_url], "llm.thinking": False, "llm.model": "fake"}
    base, _ = load_task_config(spec.task, overrides)
    sweep = Sweep(spec, base, samples, out, "bench")
    if only is not None:
        sweep.systems = [system for system in sweep.systems if system.kind == only]
    started = time.perf_counter()
    with contextlib.ExitStack() as held:
        await sweep.run(None, held)
    return time.perf_counter() - started


def alone(point: dict[str, object] | None) -> SweepSpec:
    """One part of the sweep on its own: a point with its matched single agent, or self-consistency."""
    if point is None:
        baselines: dict[str, object] = {"self_consistency": BASELINES["self_consistency"]}
        return SweepSpec.model_validate({"task": "tasksolving/math500/m1-32b", "baselines": baselines})
    grid = {key: [value] for key, value in point.items()}
    return SweepSpec.model_validate(
        {"task": "tasksolving/math500/m1-32b", "grid": grid, "baselines": {"single_agent": {}}}
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--step-time", type=float, default=0.002)
    parser.add_argument("--slowdown-per-request", type=float, default=0.002)
    parser.add_argument("--pad-words", type=int, default=100)
    args = parser.parse_args()
    samples = [
        Sample(id=f"p{index}", input=f"Problem {index}: what is {index} + 42?", target=str(index + 42))
        for index in range(args.problems)
    ]
    process, base_url = start_server(args.step_time, args.slowdown_per_request, args.pad_words)
    spec = SweepSpec.model_validate({"task": "tasksolving/math500/m1-32b", "grid": GRID, "baselines": BASELINES})
    points: list[dict[str, object]] = [
        {"environment.max_turn": turns, "environment.rule.ceo.type": ceo}
        for turns in (1, 2, 3)
        for ceo in ("basic", "none")
    ]
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            whole = asyncio.run(timed(spec, base_url, samples, folder / "sweep"))
            parts = [
                asyncio.run(timed(alone(point), base_url, samples, folder / f"alone-{index}"))
                for index, point in enumerate(points)
            ]
            parts.append(asyncio.run(timed(alone(None), base_url, samples, folder / "alone-sc", "self-consistency")))
    finally:
        process.terminate()
        process.wait()
    figures = {
        "problems": args.problems,
        "systems": "6 points + 6 matched single agents + self-consistency (k 1, 4)",
        "sweep_s": round(whole, 2),
        "parts_alone_s": [round(part, 2) for part in parts],
        "sum_alone_s": round(sum(parts), 2),
        "longest_alone_s": round(max(parts), 2),
        "sweep / sum": round(whole / sum(parts), 3),
        "sweep / longest": round(whole / max(parts), 3),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
