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


def test_program(code: str, public_tests: list[str], imports: list[str]) -> tuple[str, str]:
    """(candidate, tests) for the sandbox: the code as written, then the public asserts with their imports."""
    tests = "\n".join([*imports, *public_tests])
    return code, f"{tests}\n"


@EXECUTORS.register("code-test")
async def code_test(state: ProblemState, solution: str) -> ExecutorReport:
    from agentverse.graders.code import extract_code
    from agentverse.sandbox import SandboxLimits, SandboxStatus, run_tests

    code = extract_code(solution)
    if code is None:
        return ExecutorReport("No code block was found in the solution.", passed=False)
    rule = state.config.environment.rule.executor
    public_tests = list(state.sample.metadata.get("public_tests", []))
    imports = list(state.sample.metadata.get("test_imports", []))
    limits = SandboxLimits(cpu_time_s=rule.cpu_time_s, memory_mb=rule.memory_mb)
    # The same contract as grading: a pass means every public test ran (an early exit is no pass).
    result = await run_tests(*test_program(code, public_tests, imports), limits)
    passed = result.status == SandboxStatus.OK
    verdict = ("all public tests passed" if public_tests else "code ran without error") if passed else result.detail
    lines = [
        f"Ran the code with {len(public_tests)} public test(s): {result.status}.",
        verdict,
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
