"""MBPP (sanitized): 257 test problems, short Python functions graded by their asserts.

Raw schemas, all accepted: the hub's (`google-research-datasets/mbpp`, config `sanitized`, split
test): source_file, task_id (int), prompt (the task description), code (the reference solution),
test_imports, test_list (three asserts); the research repository's `data/mbpp_sanitized/test.jsonl`,
the same without task_id and source_file plus code_header and prompt_w_code_header; the full
config's layout: text for the description, test_setup_code (run before the asserts) and no
test_imports. The id is `mbpp/<task_id>`, or `mbpp/<hash of the description and the asserts>`
without a task_id (MBPP repeats some descriptions with other tests).

The description alone does not name the function, so `input` adds the function's header line from
the reference code and the first assert, as the paper's prompt did. That assert is also the only
public test; all asserts (with their imports) form the hidden `target`.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping
from typing import Any

from dataloader.base import Sample
from dataloader.errors import RecordError
from dataloader.records import optional_text, optional_text_list, require_text, require_text_list, sample_id
from dataloader.spec import Benchmark, HubSource

HUB_PATH = "google-research-datasets/mbpp"
HUB_CONFIG = "sanitized"
HUB_SPLIT = "test"
EXPECTED_SIZE = 257
ID_FIELDS = ("task_id", "id")


def from_raw(record: Mapping[str, Any]) -> Sample:
    description = require_text(record, "prompt", "text").strip()
    code = require_text(record, "code")
    test_list = [test.strip() for test in require_text_list(record, "test_list")]
    test_imports = optional_text_list(record, "test_imports")
    first_test = test_list[0]
    entry_point, header = tested_function(code, first_test, optional_text(record, "entry_point"))
    header = header or optional_text(record, "code_header")
    shown_header = f"The function header: {header.strip()}\n" if header else ""
    content = "\n".join([description, *test_list])
    return Sample(
        id=f"mbpp/{sample_id(record, ID_FIELDS, content)}",
        input=f"{description}\n\n{shown_header}Your code should pass this test:\n{first_test}",
        target=hidden_tests(record, test_imports, test_list),
        metadata={
            "entry_point": entry_point,
            "prompt": description,
            "test_list": test_list,
            "test_imports": test_imports,
            "public_tests": [first_test],
            "code": code,
        },
    )


def hidden_tests(record: Mapping[str, Any], test_imports: list[str], test_list: list[str]) -> str:
    """The imports, the full config's setup code when it has any, then every assert."""
    setup = (optional_text(record, "test_setup_code") or "").strip()
    preamble = [*test_imports, setup] if setup else test_imports
    return "\n".join(preamble) + "\n" + "\n".join(test_list) + "\n"


def tested_function(code: str, test: str, entry_point: str | None) -> tuple[str, str | None]:
    """The name of the function the first assert tests, and its header from the reference code.

    The tested function is the first call in the assert to a top-level `def` of the code
    (`set(f(x)) == ...` calls `set` first). When the code defines it some other way (a lambda, a
    class), the first non-builtin call names it and no header is shown.
    """
    module = parse_or_fail(code, "code")
    functions = {node.name: node for node in module.body if isinstance(node, ast.FunctionDef)}
    if entry_point is not None and entry_point in functions:
        return entry_point, function_header(code, functions[entry_point])
    called = [
        node.func.id
        for node in ast.walk(parse_or_fail(test, "test_list"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    for name in called:
        if name in functions:
            return name, function_header(code, functions[name])
    candidates = [name for name in called if not hasattr(builtins, name)]
    if entry_point is None and not candidates:
        raise RecordError("test_list", "the first assert calls no function of the code")
    return entry_point or candidates[0], None


def parse_or_fail(source: str, field: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as error:
        raise RecordError(field, f"is not valid Python ({error.msg})") from None


def function_header(code: str, function: ast.FunctionDef) -> str:
    """The `def name(args):` text as written in the reference code (it may span lines)."""
    lines = code.splitlines()[function.lineno - 1 :]
    body = function.body[0]
    if body.lineno == function.lineno:
        # A one-line function ("def f(x): return x"): cut before the body.
        return lines[0][: body.col_offset].strip()
    for count in range(1, len(lines) + 1):
        header = " ".join(without_comment(line).strip() for line in lines[:count])
        if header.endswith(":") and parses(header + " pass"):
            return header
    raise RecordError("code", f"cannot find the header of function {function.name!r}")


def without_comment(line: str) -> str:
    """Cut a trailing `# comment` from a header line (headers carry no "#" inside strings)."""
    before, hash_sign, _ = line.partition("#")
    return before if hash_sign and "'" not in before and '"' not in before else line


def parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


BENCHMARK = Benchmark(
    name="mbpp_sanitized",
    hub=HubSource(HUB_PATH, HUB_CONFIG, HUB_SPLIT),
    to_stored=from_raw,
    required_metadata=("entry_point", "test_list"),
    expected_size=EXPECTED_SIZE,
)
