"""Math answers: the last `\\boxed{}` of the response, compared with the reference.

Rule-first: a normalized string match, then symbolic equivalence with math_verify. math_verify
needs delimiters (bare LaTeX parses to nothing), so both sides are wrapped in `$...$`.
"""

from __future__ import annotations

import functools
import re
import threading

from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.text import strip_reasoning

BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)\b")
# Longer answers are not worth a symbolic attempt and could make sympy crawl.
MAX_SYMBOLIC_LENGTH = 500
SYMBOLIC_TIMEOUT_S = 5

# (pattern, replacement) applied in order by normalize_answer.
UNIT_WORDS = (
    r"(?:cm|m|km|mm|in|inches|inch|ft|feet|units?|square\s+\w+|sq\s+\w+|degrees?|dollars?|cents?"
    r"|hours?|minutes?|seconds?|days?|meters?|miles?|mph|kg|g|pounds?)"
)
NORMALIZATION_RULES: tuple[tuple[str, str], ...] = (
    (r"\\[dt]frac", r"\\frac"),
    (r"\\left|\\right", ""),
    (r"\\[,;:! ]", ""),  # LaTeX spacing commands
    (r"\\\$|\$", ""),
    (r"\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree", ""),
    (r"(?<=[\d}\s])\\(?:text|mbox|mathrm)\{\s*" + UNIT_WORDS + r"(?:\^\d)?\s*\}(\^\{?\d\}?)?\s*$", ""),
    (r"\\(?:text|textbf|mbox|mathrm|mathbf)\{([^{}]*)\}", r"\1"),
    (r"\\%|%", ""),
    (r"(?<=\d)\s+" + UNIT_WORDS + r"(?:\^\d)?\s*$", ""),
    (r"^[a-zA-Z]\s*=\s*", ""),  # "x = 5" answers "5"
    (r"\s+", ""),
    (r"\.$", ""),
)
THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
# Words: sympy would read "Evelyn" as the product E*v*e*l*y*n, so anagrams would match.
WORDS = re.compile(r"[A-Za-z]+(?:[ ,][A-Za-z]+)*")


def _braced(text: str, start: int) -> str | None:
    """The content of the brace group opening at `start`, or None if it never closes."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index]
    return None


def _box_content(text: str, after_command: int) -> str | None:
    rest = text[after_command:]
    stripped = rest.lstrip()
    if stripped.startswith("{"):
        return _braced(text, after_command + len(rest) - len(stripped))
    match = re.match(r"\s+([^\s$]+)", rest)  # the `\boxed 5` form
    return match.group(1) if match else None


def extract_boxed(text: str) -> str | None:
    """Content of the last complete `\\boxed{...}` / `\\fbox{...}` (nested braces allowed)."""
    for match in reversed(list(BOX_COMMAND.finditer(text))):
        content = _box_content(text, match.end())
        if content is not None:
            return content.strip()
    return None


def normalize_answer(answer: str) -> str:
    """A canonical string form: drops formatting, units, degrees and spacing."""
    normalized = answer.strip()
    for pattern, replacement in NORMALIZATION_RULES:
        normalized = re.sub(pattern, replacement, normalized)
    if THOUSANDS.match(normalized):
        normalized = normalized.replace(",", "")
    return normalized


@functools.lru_cache(maxsize=4096)
def _parse(answer: str, timeout_s: int | None) -> tuple[object, ...]:
    # Cached: a reference is parsed once however many responses are graded against it (sympy
    # expressions are immutable, so sharing them is safe).
    from math_verify import parse  # imported lazily: it pulls sympy and antlr

    return tuple(parse(f"${answer}$", parsing_timeout=timeout_s))


def symbolically_equal(answer: str, reference: str) -> bool:
    """math_verify equivalence; False when either side does not parse or a check times out."""
    if max(len(answer), len(reference)) > MAX_SYMBOLIC_LENGTH:
        return False
    from math_verify import verify

    # math_verify's timeouts use SIGALRM, which only the main thread may arm.
    timeout_s = SYMBOLIC_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
    try:
        parsed_reference = _parse(reference, timeout_s)
        parsed_answer = _parse(answer, timeout_s)
        if not parsed_reference or not parsed_answer:
            return False
        return bool(verify(list(parsed_reference), list(parsed_answer), timeout_seconds=timeout_s))
    except Exception:  # math_verify raises on timeouts and on odd sympy input
        return False


def _any_symbolically_equal(*pairs: tuple[str, str]) -> bool:
    # The raw forms keep what math_verify understands (units, \\text); the normalized ones
    # drop what it does not (a trailing period, "x =" prefixes it reads as equations).
    tried: set[tuple[str, str]] = set()
    for answer, reference in pairs:
        if (answer, reference) not in tried and symbolically_equal(answer, reference):
            return True
        tried.add((answer, reference))
    return False


def grade_math(response: str, target: str) -> Grade:
    """CORRECT when the last box of the final answer equals `target` (string or symbolic)."""
    extracted = extract_boxed(strip_reasoning(response))
    if not extracted:
        return Grade(status=GradeStatus.NO_ANSWER, score=0.0, detail="no \\boxed{} answer (or an empty one)")
    normalized_answer, normalized_target = normalize_answer(extracted), normalize_answer(target)
    if normalized_answer.casefold() == normalized_target.casefold():
        return Grade(status=GradeStatus.CORRECT, score=1.0, extracted=extracted, detail="same normalized string")
    if not WORDS.fullmatch(normalized_target) and _any_symbolically_equal(
        (extracted, target), (normalized_answer, normalized_target)
    ):
        return Grade(status=GradeStatus.CORRECT, score=1.0, extracted=extracted, detail="symbolically equal")
    return Grade(
        status=GradeStatus.INCORRECT, score=0.0, extracted=extracted, detail=f"expected {target!r}, got {extracted!r}"
    )
