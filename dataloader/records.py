"""Small, strict accessors for raw records, shared by the per-benchmark mappers.

Field names are looked up loosely, because mirrors of one benchmark spell them differently
("Correct Answer", "correct_answer", "CorrectAnswer"): an exact key wins, then one that differs
only in case, spaces, underscores or hyphens.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dataloader.errors import RecordError

SEPARATORS = re.compile(r"[\s_\-]+")
BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)\s*\{")
ANSWER_FIELDS = ("answer", "final_answer")


def loose_name(name: str) -> str:
    return SEPARATORS.sub("", name).lower()


def find_field(record: Mapping[str, Any], *names: str) -> str | None:
    """The record's own key for the first of `names` it holds with a non-null value."""
    loose_keys = {loose_name(key): key for key in reversed(list(record)) if isinstance(key, str)}
    for name in names:
        key = name if name in record else loose_keys.get(loose_name(name))
        if key is not None and record[key] is not None:
            return key
    return None


def require_text(record: Mapping[str, Any], *names: str) -> str:
    """The first present field among `names` as a non-empty string (numbers are accepted as text)."""
    key = find_field(record, *names)
    if key is None:
        raise RecordError(names[0], "is missing")
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordError(key, f"expected text, got {type(value).__name__}")
    text = str(value)
    if not text.strip():
        raise RecordError(key, "is empty")
    return text


def optional_text(record: Mapping[str, Any], *names: str) -> str | None:
    """Like `require_text`, but an absent or empty field gives None."""
    for name in names:
        key = find_field(record, name)
        if key is not None and str(record[key]).strip():
            return str(record[key])
    return None


def require_text_list(record: Mapping[str, Any], name: str, *, allow_empty: bool = False) -> list[str]:
    """A list of strings; tuples and other sequences from a hub dataset are accepted."""
    key = find_field(record, name)
    if key is None:
        raise RecordError(name, "is missing")
    value = record[key]
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise RecordError(key, f"expected a list of strings, got {type(value).__name__}")
    if any(not isinstance(item, str) for item in value):
        raise RecordError(key, "expected a list of strings")
    if not value and not allow_empty:
        raise RecordError(key, "is an empty list")
    return list(value)


def optional_text_list(record: Mapping[str, Any], name: str) -> list[str]:
    """Like `require_text_list`, but an absent field is an empty list."""
    return require_text_list(record, name, allow_empty=True) if find_field(record, name) else []


def last_boxed(text: str) -> str | None:
    """The content of the last complete `\\boxed{...}` in `text` (nested braces allowed)."""
    for match in reversed(list(BOX_COMMAND.finditer(text))):
        depth = 1
        for index in range(match.end(), len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                content = text[match.end() : index].strip()
                if content:
                    return content
                break
    return None


def short_hash(text: str) -> str:
    """A stable 12-hex-digit id for records that carry none.

    sha1 of the UTF-8 text: the same on every run and machine (unlike `hash()`), and 48 bits keep
    accidental collisions out of reach for benchmarks of a few thousand problems. Not security.
    """
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def problem_text(record: Mapping[str, Any]) -> str:
    """The problem statement of a math record: `problem`, or `question` in some mirrors."""
    return require_text(record, "problem", "question").strip()


def reference_answer(record: Mapping[str, Any]) -> str:
    """The answer field, or the last `\\boxed{}` of the solution when there is none (original MATH)."""
    if find_field(record, *ANSWER_FIELDS) is not None:
        return require_text(record, *ANSWER_FIELDS).strip()
    solution = optional_text(record, "solution")
    boxed = last_boxed(solution) if solution else None
    if boxed is None:
        raise RecordError(ANSWER_FIELDS[0], "is missing, and there is no solution with a \\boxed{} answer")
    return boxed


def sample_id(record: Mapping[str, Any], id_fields: Sequence[str], content: str) -> str:
    """The record's own id (numbers become text), else a hash of `content`, its problem text.

    A hash of the content, not a line number, so the id is the same whatever the file order.
    """
    given = optional_text(record, *id_fields)
    return given.strip() if given else short_hash(content)
