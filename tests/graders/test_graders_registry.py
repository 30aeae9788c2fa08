"""The grader registry and the import-does-nothing rule."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agentverse.graders.base import GradeStatus
from agentverse.graders.registry import GRADERS, get_grader
from agentverse.registry import UnknownKeyError
from dataloader.base import Sample


def test_the_registry_holds_one_grader_per_answer_kind() -> None:
    assert GRADERS.keys() == ["code", "concept-coverage", "math", "multiple-choice"]


def test_an_unknown_kind_lists_the_valid_keys() -> None:
    with pytest.raises(UnknownKeyError, match="valid keys: code, concept-coverage, math, multiple-choice"):
        get_grader("maths")


CASES = [
    ("math", "7", r"so \boxed{7}", GradeStatus.CORRECT),
    ("multiple-choice", "C", "Answer: C", GradeStatus.CORRECT),
    ("concept-coverage", ["dog", "run"], "The dogs ran.", GradeStatus.CORRECT),
    ("code", "assert f() == 1\n", "```python\ndef f():\n    return 2\n```", GradeStatus.INCORRECT),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("kind", "target", "response", "status"), CASES)
async def test_every_grader_takes_a_sample_and_a_response(
    kind: str, target: str | list[str], response: str, status: GradeStatus
) -> None:
    sample = Sample(id="s1", input="problem", target=target, metadata={"entry_point": "f"})
    assert (await get_grader(kind)(sample, response)).status == status


def test_importing_the_graders_loads_nothing_heavy() -> None:
    probe = (
        "import sys\n"
        "import agentverse.graders.registry, agentverse.graders.judge, agentverse.sandbox\n"
        "heavy = [name for name in ('lemminflect', 'math_verify', 'sympy') if name in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
