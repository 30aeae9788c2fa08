"""Executors turn a candidate solution into evidence for the evaluator.

`code-test` runs the candidate against the tests the problem shows publicly (HumanEval's
docstring examples, MBPP's first assert) in the sandbox; hidden grading tests are never
used here. `concept-coverage` reports which required concepts the text misses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agentverse.environments.tasksolving.state import ExecutorReport, ProblemState
from agentverse.registry import Registry

Executor = Callable[[ProblemState, str], Awaitable[ExecutorReport]]
EXECUTORS: Registry[Executor] = Registry("executor")

OUTPUT_TAIL = 1500


@EXECUTORS.register("none")
async def no_execution(state: ProblemState, solution: str) -> ExecutorReport:
    return ExecutorReport("No execution for this task.")


def test_program(code: str, public_tests: list[str], imports: list[str]) -> str:
    """The candidate, then the public asserts (with the imports they need), then a success line."""
    header = "\n".join(imports)
    checks = "\n".join(public_tests)
    report = 'print("all public tests passed")' if public_tests else 'print("code ran without error")'
    return f"{header}\n{code}\n\n{checks}\n{report}\n"


@EXECUTORS.register("code-test")
async def code_test(state: ProblemState, solution: str) -> ExecutorReport:
    from agentverse.graders.code import extract_code
    from agentverse.sandbox import SandboxLimits, run_python

    code = extract_code(solution)
    if code is None:
        return ExecutorReport("No code block was found in the solution.", passed=False)
    rule = state.config.environment.rule.executor
    public_tests = list(state.sample.metadata.get("public_tests", []))
    imports = list(state.sample.metadata.get("test_imports", []))
    limits = SandboxLimits(wall_timeout_s=rule.timeout_s, memory_mb=rule.memory_mb)
    result = await run_python(test_program(code, public_tests, imports), limits)
    passed = result.status == "ok"
    lines = [
        f"Ran the code with {len(public_tests)} public test(s): {result.status}.",
        f"stdout:\n{result.stdout[-OUTPUT_TAIL:]}" if result.stdout.strip() else "",
        f"stderr:\n{result.stderr[-OUTPUT_TAIL:]}" if result.stderr.strip() else "",
    ]
    return ExecutorReport("\n".join(line for line in lines if line), passed=passed)


@EXECUTORS.register("concept-coverage")
async def concept_coverage_check(state: ProblemState, solution: str) -> ExecutorReport:
    from agentverse.graders.commongen import concept_coverage

    concepts = state.sample.target if isinstance(state.sample.target, list) else []
    covered, missing = concept_coverage(solution, concepts)
    if not missing:
        return ExecutorReport(f"All {len(covered)} concepts are used.", passed=True)
    return ExecutorReport(
        f"{len(covered)} of {len(concepts)} concepts used; missing: {', '.join(missing)}.", passed=False
    )
