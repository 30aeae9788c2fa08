"""The statistics of a sweep: means with standard errors and bootstrap intervals over problems and
runs, paired comparisons over problems, and the unbiased pass@k.

Scores are a matrix: one row per problem, one entry per run in which that problem completed
(errors are excluded, so rows may differ in length). The unit is the problem: the mean is that of
the problem means, and the standard error and the bootstrap resample problems.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass

Scores = list[list[float]]  # per problem: its score in each run where it completed


@dataclass(frozen=True)
class Estimate:
    mean: float  # of the problem means (each problem's mean over the runs where it completed)
    standard_error: float  # of that mean, over problems
    low: float  # 95% bootstrap interval
    high: float
    problems: int
    scores: int


def problem_means(scores: Scores) -> list[float]:
    return [statistics.fmean(row) for row in scores if row]


def standard_error(values: list[float]) -> float:
    """The standard error of the mean of independent values (0 for fewer than two)."""
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / math.sqrt(len(values))


def grand_mean(scores: Scores) -> float:
    """The mean of the problem means: every problem weighs the same, however many runs it completed."""
    means = problem_means(scores)
    return statistics.fmean(means) if means else math.nan


def bootstrap_interval(
    scores: Scores, *, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the mean of problem means, the problems resampled. (Resampling each
    problem's runs as well would count the runs' noise twice: it is already in the problem means.)"""
    means_of_problems = problem_means(scores)
    if not means_of_problems:
        return math.nan, math.nan
    generator = random.Random(seed)
    count = len(means_of_problems)
    means = [statistics.fmean(generator.choices(means_of_problems, k=count)) for _ in range(resamples)]
    means.sort()
    tail = (1 - level) / 2
    return means[int(tail * (resamples - 1))], means[int((1 - tail) * (resamples - 1))]


def estimate(scores: Scores, *, seed: int = 0) -> Estimate:
    low, high = bootstrap_interval(scores, seed=seed)
    rows = [row for row in scores if row]
    return Estimate(
        mean=grand_mean(rows),
        standard_error=standard_error(problem_means(rows)),
        low=low,
        high=high,
        problems=len(rows),
        scores=sum(len(row) for row in rows),
    )


def paired_bootstrap(
    first: list[float], second: list[float], *, resamples: int = 5000, seed: int = 0
) -> tuple[float, float]:
    """(mean difference first - second, two-sided p-value) over problems paired by position.

    The p-value is twice the share of resampled differences on the other side of zero from the
    observed one (at most 1): how often a difference this clear would flip sign by chance; counted
    as (flips + 1) / (resamples + 1), so that a finite number of resamples never claims p = 0.
    """
    if len(first) != len(second) or not first:
        raise ValueError("paired samples need the same, non-zero number of problems")
    differences = [a - b for a, b in zip(first, second, strict=True)]
    observed = statistics.fmean(differences)
    generator = random.Random(seed)
    flips = 0
    for _ in range(resamples):
        resampled = statistics.fmean(generator.choices(differences, k=len(differences)))
        if (observed >= 0 and resampled <= 0) or (observed <= 0 and resampled >= 0):
            flips += 1
    return observed, min(1.0, 2 * (flips + 1) / (resamples + 1))


def pass_at_k(samples: int, correct: int, k: int) -> float:
    """The unbiased estimator 1 - C(n - c, k) / C(n, k): the chance that k of the n samples,
    drawn without replacement, hold at least one correct answer."""
    if not 0 <= correct <= samples or not 1 <= k <= samples:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={samples}, c={correct}, k={k}")
    if samples - correct < k:
        return 1.0
    return 1.0 - math.comb(samples - correct, k) / math.comb(samples, k)


def pareto_frontier(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats at once on cost (lower) and score (higher),
    sorted by cost."""
    order = sorted(range(len(points)), key=lambda index: (points[index][0], -points[index][1]))
    frontier: list[int] = []
    best = -math.inf
    for index in order:
        if points[index][1] > best:
            frontier.append(index)
            best = points[index][1]
    return frontier
