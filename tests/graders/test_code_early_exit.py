"""A candidate that ends the program before the hidden tests finish must never be graded correct.

The candidate runs with script semantics (`__name__ == "__main__"`), then the tests; only a report
written by the sandbox after the last test counts as a pass.
"""

from __future__ import annotations

import pytest

from agentverse.config.loader import load_task_config
from agentverse.environments.tasksolving.rules.executor import code_test
from agentverse.graders.base import GradeStatus
from agentverse.graders.code import grade_code
from agentverse.sandbox import SandboxLimits, SandboxStatus
from dataloader.base import Sample

LIMITS = SandboxLimits(cpu_time_s=5, memory_mb=512)
ADD_TESTS = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"
ADD = "def add(a, b):\n    return a + b\n"

UNITTEST_MAIN = """
import unittest

def add(a, b):
    return a + b

class AddTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(1, 2), 3)

if __name__ == "__main__":
    unittest.main()
"""

# (name, candidate, what the detail must say about why the tests did not run)
EARLY_EXITS = [
    ("unittest.main", UNITTEST_MAIN, "exited before the tests ran"),
    ("sys.exit(main())", f"import sys\n{ADD}\ndef main():\n    return 0\n\nsys.exit(main())\n", "before the tests ran"),
    ("exit()", f"{ADD}\nexit()\n", "exited before the tests ran"),
    ("quit()", f"{ADD}\nquit()\n", "exited before the tests ran"),
    ("raise SystemExit", f"{ADD}\nraise SystemExit\n", "exited before the tests ran"),
    ("raise SystemExit(0) in a main guard", f'{ADD}\nif __name__ == "__main__":\n    raise SystemExit(0)\n', "before"),
    ("os._exit(0)", f"import os\n{ADD}\nos._exit(0)\n", "without reporting"),
    ("os._exit(0) in the tested function", "import os\ndef add(a, b):\n    os._exit(0)\n", "without reporting"),
    ("sys.exit(0) in the tested function", "import sys\ndef add(a, b):\n    sys.exit(0)\n", "while the tests ran"),
]

FAKE_SENTINELS = [
    # Lines that look like the sandbox's report, then an exit that skips the tests.
    "import os\nprint('mas-tts-tests-finished:' + '0' * 32, flush=True)\nos._exit(0)\n",
    "import os\nos.write(1, b'mas-tts-tests-finished:' + b'f' * 32 + b'\\n')\nos._exit(0)\n",
    "import os, sys\nsys.__stdout__.write('tests passed\\n'); sys.__stdout__.flush()\nos._exit(0)\n",
]


def add_sample() -> Sample:
    metadata = {"entry_point": "add", "prompt": "Write add.", "public_tests": []}
    return Sample(id="toy/add", input="Write add.", target=ADD_TESTS, metadata=metadata)


def fenced(code: str) -> str:
    return f"```python\n{code}```"


@pytest.mark.parametrize(("name", "candidate", "reason"), EARLY_EXITS, ids=[case[0] for case in EARLY_EXITS])
async def test_an_early_exit_is_incorrect_because_the_tests_did_not_run(name: str, candidate: str, reason: str) -> None:
    grade = await grade_code(add_sample(), fenced(candidate), LIMITS)
    assert grade.status == GradeStatus.INCORRECT, grade.detail
    assert grade.score == 0.0
    assert SandboxStatus.TESTS_NOT_RUN.value in grade.detail
    assert "the tests did not run" in grade.detail
    assert reason in grade.detail


@pytest.mark.parametrize("candidate", FAKE_SENTINELS, ids=["print", "os.write", "sys.__stdout__"])
async def test_a_fake_report_line_is_not_a_pass(candidate: str) -> None:
    grade = await grade_code(add_sample(), fenced(ADD + candidate), LIMITS)
    assert grade.status == GradeStatus.INCORRECT, grade.detail
    assert SandboxStatus.TESTS_NOT_RUN.value in grade.detail


async def test_a_normal_candidate_passes() -> None:
    grade = await grade_code(add_sample(), fenced(ADD), LIMITS)
    assert grade.status == GradeStatus.CORRECT, grade.detail
    assert grade.detail == "all tests passed"


async def test_a_main_guarded_demo_that_returns_normally_passes() -> None:
    candidate = f'{ADD}\nif __name__ == "__main__":\n    print(add(2, 2))\n'
    grade = await grade_code(add_sample(), fenced(candidate), LIMITS)
    assert grade.status == GradeStatus.CORRECT, grade.detail


async def test_a_failing_assert_is_incorrect_with_the_traceback() -> None:
    grade = await grade_code(add_sample(), fenced("def add(a, b):\n    return a - b\n"), LIMITS)
    assert grade.status == GradeStatus.INCORRECT
    assert "sandbox failed" in grade.detail and "AssertionError" in grade.detail
    assert SandboxStatus.TESTS_NOT_RUN.value not in grade.detail


@pytest.mark.parametrize(
    ("candidate", "passed"),
    [(ADD, True), (f"{ADD}\nexit()\n", False), (f"import os\n{ADD}\nos._exit(0)\n", False)],
    ids=["normal", "exit()", "os._exit(0)"],
)
async def test_the_executor_does_not_count_an_early_exit_as_passing_the_public_tests(
    candidate: str, passed: bool
) -> None:
    config, _ = load_task_config("tasksolving/mbpp_sanitized/smollm2", {})
    metadata = {"public_tests": ["assert add(1, 2) == 3"], "test_imports": ["import math"]}
    sample = Sample(id="toy/add", input="Write add.", target=ADD_TESTS, metadata=metadata)
    report = await code_test(config.environment.rule.executor)(sample, fenced(candidate))
    assert report.passed is passed, report.summary
    assert ("all public tests passed" in report.summary) is passed
    assert ("the tests did not run" in report.summary) is not passed
