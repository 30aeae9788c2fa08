"""Executors turn a candidate solution into evidence for the evaluator.

`code-test` runs the candidate against the tests the problem shows publicly (HumanEval's
docstring examples, MBPP's first assert) in the sandbox; hidden grading tests are never
used here. `concept-coverage` reports which required concepts the text misses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agentverse.config.schema import ExecutorRuleConfig
from agentverse.environments.tasksolving.state import ExecutorReport
from agentverse.registry import Registry
from dataloader.base import Sample

# Built once per environment from its config section; then called per round with the problem
# and the candidate solution.
Executor = Callable[[Sample, str], Awaitable[ExecutorReport]]
ExecutorFactory = Callable[[ExecutorRuleConfig], Executor]
EXECUTORS: Registry[ExecutorFactory] = Registry("executor")

OUTPUT_TAIL = 1500


class ExecutionUnavailable(Exception):
    """The sandbox itself failed (the program could not start): says nothing about the candidate.

    The loop turns it into an infrastructure failure, so it never becomes feedback to the model.
    """


@EXECUTORS.register("none")
def no_execution(rule: ExecutorRuleConfig) -> Executor:
    async def execute(sample: Sample, solution: str) -> ExecutorReport:
        return ExecutorReport("No execution for this task.")

    return execute


def test_program(code: str, public_tests: list[str], imports: list[str]) -> tuple[str, str]:
    """(candidate, tests) for the sandbox: the code as written, then the public asserts with their imports."""
    tests = "\n".join([*imports, *public_tests])
    return code, f"{tests}\n"


@EXECUTORS.register("code-test")
def code_test(rule: ExecutorRuleConfig) -> Executor:
    async def execute(sample: Sample, solution: str) -> ExecutorReport:
        return await run_public_tests(rule, sample, solution)

    return execute


async def run_public_tests(rule: ExecutorRuleConfig, sample: Sample, solution: str) -> ExecutorReport:
    from agentverse.graders.code import extract_code
    from agentverse.sandbox import SandboxLimits, SandboxStatus, run_tests

    code = extract_code(solution)
    if code is None:
        return ExecutorReport("No code block was found in the solution.", passed=False)
    public_tests = list(sample.metadata.get("public_tests", []))
    imports = list(sample.metadata.get("test_imports", []))
    limits = SandboxLimits(cpu_time_s=rule.cpu_time_s, memory_mb=rule.memory_mb)
    # The same contract as grading: a pass means every public test ran (an early exit is no pass).
    result = await run_tests(*test_program(code, public_tests, imports), limits)
    if result.status == SandboxStatus.ERROR:
        raise ExecutionUnavailable(f"the sandbox could not run the code: {result.stderr[-300:] or result.detail}")
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
def concept_coverage_check(rule: ExecutorRuleConfig) -> Executor:
    async def execute(sample: Sample, solution: str) -> ExecutorReport:
        return missing_concepts(sample, solution)

    return execute


def missing_concepts(sample: Sample, solution: str) -> ExecutorReport:
    from agentverse.graders.commongen import concept_coverage

    concepts = sample.target if isinstance(sample.target, list) else []
    covered, missing = concept_coverage(solution, concepts)
    if not missing:
        return ExecutorReport(f"All {len(covered)} concepts are used.", passed=True)
    return ExecutorReport(
        f"{len(covered)} of {len(concepts)} concepts used; missing: {', '.join(missing)}.", passed=False
    )
