"""Majority voting over sampled answers (self-consistency), without ever looking at the target.

Answers are compared as the graders read them: math by equivalence (the normalized string, else
math_verify's symbolic equality), multiple choice by letter, code by the normalized program
(the source re-printed from its syntax tree), text by its normalized words. A sample with no
readable answer does not vote. Ties go to the class whose first sample came first.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from agentverse.graders.code import extract_code
from agentverse.graders.math import extract_boxed, normalize_answer, symbolically_equal
from agentverse.graders.multiple_choice import extract_choice
from agentverse.graders.text import strip_reasoning


def answer_key(kind: str, response: str) -> str | None:
    """What a response answers, in the form votes are compared on; None: no readable answer."""
    text = strip_reasoning(response)
    if kind == "math":
        boxed = extract_boxed(text)
        return normalize_answer(boxed) if boxed else None
    if kind == "multiple-choice":
        return extract_choice(text)
    if kind == "code":
        code = extract_code(text)
        return normalized_program(code) if code else None
    words = re.findall(r"[a-z0-9']+", text.lower())
    return " ".join(words) or None


def normalized_program(code: str) -> str:
    """The program without comments, blank lines or formatting differences (as written when it does not parse)."""
    try:
        return ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError):
        return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())


def same_answer(kind: str) -> Callable[[str, str], bool]:
    if kind != "math":
        return lambda first, second: first == second
    return lambda first, second: first.casefold() == second.casefold() or symbolically_equal(first, second)


def majority(keys: list[str | None], same: Callable[[str, str], bool]) -> int | None:
    """The index of the first sample of the largest class of equal answers (None: nobody answered)."""
    classes: list[tuple[str, int, int]] = []  # (representative, first index, votes)
    for index, key in enumerate(keys):
        if key is None:
            continue
        for position, (representative, first, votes) in enumerate(classes):
            if same(representative, key):
                classes[position] = (representative, first, votes + 1)
                break
        else:
            classes.append((key, index, 1))
    if not classes:
        return None
    best = max(classes, key=lambda entry: (entry[2], -entry[1]))
    return best[1]


def vote(kind: str, responses: list[str | None]) -> int | None:
    """The index of the response the majority chose among `responses` (None entries do not vote)."""
    keys = [answer_key(kind, response) if response is not None else None for response in responses]
    return majority(keys, same_answer(kind))
