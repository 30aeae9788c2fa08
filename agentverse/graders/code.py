"""Code answers (HumanEval, MBPP): run the candidate, then the hidden tests, in the sandbox.

Correct means every hidden test ran and passed: the candidate runs as a script and the tests after
it (`run_tests`), so a candidate that exits first (`unittest.main()`, `sys.exit()`, `os._exit(0)`)
is incorrect, with the sandbox status `tests_not_run`.
"""

from __future__ import annotations

import re

from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.text import strip_reasoning
from agentverse.sandbox import SandboxLimits, SandboxResult, SandboxStatus, run_tests
from dataloader.base import Sample

FENCED_BLOCK = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
PYTHON_TAGS = {"python", "py", "python3"}
DETAIL_TAIL_CHARS = 1500
IMPORT_LINE = re.compile(r"^(?:from\s+\S+\s+)?import\s")


def extract_code(text: str) -> str | None:
    """The last ```python block, else the last fenced block of any kind, else None."""
    blocks = [(match.group(1).lower(), match.group(2)) for match in FENCED_BLOCK.finditer(text)]
    python_blocks = [code for tag, code in blocks if tag in PYTHON_TAGS]
    chosen = python_blocks[-1] if python_blocks else (blocks[-1][1] if blocks else None)
    if chosen is None or not chosen.strip():
        return None
    return chosen


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _prompt_imports(prompt: str) -> str:
    return "".join(line + "\n" for line in prompt.splitlines() if IMPORT_LINE.match(line))


def build_candidate(sample: Sample, code: str) -> str:
    """The candidate program, as the official harness would have completed it.

    A HumanEval candidate may be only the function body: the prompt (signature + docstring) goes
    first. A full function often omits the prompt's imports (`from typing import List`), which the
    official harness would have supplied: they go first. MBPP prompts are prose, never prepended.
    """
    entry_point = sample.metadata.get("entry_point")
    prompt = sample.metadata.get("prompt") or ""
    if entry_point and _defines(prompt, entry_point):
        code = _prompt_imports(prompt) + code if _defines(code, entry_point) else prompt + code
    return code


def hidden_tests(sample: Sample) -> str:
    """The grading tests: run after the candidate, in its namespace."""
    tests = sample.target if isinstance(sample.target, str) else "\n".join(sample.target)
    return f"{tests}\n"


def _failure_detail(result: SandboxResult) -> str:
    tail = (result.stderr.strip() or result.stdout.strip())[-DETAIL_TAIL_CHARS:]
    why = f": {result.detail}" if result.detail else ""
    return f"sandbox {result.status.value} (exit {result.returncode}){why}:\n{tail}".rstrip()


async def grade_code(sample: Sample, response: str, limits: SandboxLimits | None = None) -> Grade:
    code = extract_code(strip_reasoning(response))
    if code is None:
        return Grade(status=GradeStatus.NO_ANSWER, score=0.0, detail="no fenced code block")
    result = await run_tests(build_candidate(sample, code), hidden_tests(sample), limits)
    if result.status == SandboxStatus.OK:
        return Grade(status=GradeStatus.CORRECT, score=1.0, extracted=code, detail="all tests passed")
    if result.status == SandboxStatus.ERROR:
        # The sandbox failed, not the candidate: this must not count as a wrong answer.
        return Grade(status=GradeStatus.ERROR, score=0.0, extracted=code, detail=_failure_detail(result))
    return Grade(status=GradeStatus.INCORRECT, score=0.0, extracted=code, detail=_failure_detail(result))
