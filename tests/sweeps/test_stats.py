"""The sweep's statistics and voting against values known by hand."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from agentverse.graders.vote import answer_key, majority, same_answer, vote
from agentverse.sweeps.stats import (
    bootstrap_interval,
    estimate,
    paired_bootstrap,
    pareto_frontier,
    pass_at_k,
    standard_error,
)


def test_standard_error_of_known_values() -> None:
    assert standard_error([1.0, 0.0, 1.0, 0.0]) == pytest.approx(statistics.stdev([1, 0, 1, 0]) / 2)
    assert standard_error([0.5]) == 0.0
    found = estimate([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])  # problem means 1, 0.5, 0
    assert found.mean == pytest.approx(0.5) and found.standard_error == pytest.approx(0.5 / math.sqrt(3))
    assert (found.problems, found.scores) == (3, 6)


def test_bootstrap_interval_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    generator = random.Random(7)
    true_mean, covered, trials = 0.6, 0, 200
    for trial in range(trials):
        scores = [[float(generator.random() < true_mean)] for _ in range(60)]
        low, high = bootstrap_interval(scores, resamples=400, seed=trial)
        covered += low <= true_mean <= high
    assert 0.88 <= covered / trials <= 0.99


def test_paired_bootstrap_separates_a_real_difference_from_none() -> None:
    first = [1.0] * 30 + [0.0] * 10
    better = [1.0] * 10 + [0.0] * 30
    difference, p_value = paired_bootstrap(first, better)
    assert difference == pytest.approx(0.5) and p_value < 0.01
    # No resample flipped the sign, yet a p-value is never 0: at least 2 x 1 / (resamples + 1).
    assert p_value == pytest.approx(2 / 5001)
    difference, p_value = paired_bootstrap(first, list(first))
    assert difference == 0.0 and p_value == 1.0
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 0.0])


@pytest.mark.parametrize(
    ("samples", "correct", "k", "expected"),
    [
        (4, 1, 1, 0.25),
        (4, 1, 2, 0.5),
        (4, 1, 4, 1.0),
        (10, 0, 5, 0.0),
        (10, 3, 2, 1 - math.comb(7, 2) / math.comb(10, 2)),
    ],
)
def test_unbiased_pass_at_k(samples: int, correct: int, k: int, expected: float) -> None:
    assert pass_at_k(samples, correct, k) == pytest.approx(expected)


def test_pass_at_k_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)


def test_majority_vote_ties_go_to_the_first_answer() -> None:
    assert majority(["a", "b", "b", "a"], lambda x, y: x == y) == 0  # 2-2: "a" came first
    assert majority([None, "b", "a", "a"], lambda x, y: x == y) == 2
    assert majority([None, None], lambda x, y: x == y) is None


def test_equivalent_math_answers_vote_together() -> None:
    responses = ["so \\boxed{\\frac{1}{2}}", "\\boxed{0.5}", "\\boxed{3}", "\\boxed{3}", "\\boxed{1/2}"]
    assert vote("math", responses) == 0  # 1/2 three times, written three ways
    assert answer_key("math", "no box here") is None


def test_letters_and_programs_vote_by_what_they_answer() -> None:
    assert vote("multiple-choice", ["The answer is \\boxed{B}", "\\boxed{C}", "Answer: B"]) == 0
    first = "```python\ndef f(x):\n    # double it\n    return x*2\n```"
    second = "```python\ndef f(x):\n\n    return x * 2\n```"
    third = "```python\ndef f(x):\n    return x + x\n```"
    assert answer_key("code", first) == answer_key("code", second)
    assert vote("code", [third, first, second]) == 1
    assert same_answer("code")("a", "a") and not same_answer("code")("a", "b")


def test_pareto_frontier() -> None:
    points = [(10.0, 50.0), (20.0, 40.0), (30.0, 70.0), (5.0, 20.0), (30.0, 60.0)]
    assert pareto_frontier(points) == [3, 0, 2]


def test_the_mean_weights_problems_as_its_standard_error_does() -> None:
    """A problem completed in four runs and one completed in one weigh the same (the unit is the
    problem): the mean is that of the problem means, not of all eight (problem, run) scores."""
    found = estimate([[1.0, 1.0, 1.0, 1.0], [0.0]])
    assert found.mean == pytest.approx(0.5) and found.scores == 5


def test_the_interval_over_problems_and_runs_is_as_wide_as_its_standard_error_says() -> None:
    """Resampling runs inside each resampled problem counted the runs' noise twice (about 10% too
    wide); the interval resamples problems (their means) only, so its width is about 2 x 1.96 SE."""
    generator = random.Random(7)
    scores = [[float(generator.random() < 0.3 + 0.4 * (index % 2)) for _ in range(4)] for index in range(200)]
    found = estimate(scores)
    width = found.high - found.low
    assert width == pytest.approx(2 * 1.96 * found.standard_error, rel=0.08)
