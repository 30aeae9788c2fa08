"""Small, strict accessors for raw records, shared by the per-benchmark mappers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from dataloader.errors import RecordError


def require_text(record: Mapping[str, Any], *names: str) -> str:
    """The first present field among `names` as a non-empty string (numbers are accepted as text)."""
    for name in names:
        if name in record and record[name] is not None:
            value = record[name]
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise RecordError(name, f"expected text, got {type(value).__name__}")
            text = str(value)
            if not text.strip():
                raise RecordError(name, "is empty")
            return text
    raise RecordError(names[0], "is missing")


def optional_text(record: Mapping[str, Any], *names: str) -> str | None:
    """Like `require_text`, but an absent or empty field gives None."""
    for name in names:
        value = record.get(name)
        if value is not None and str(value).strip():
            return str(value)
    return None


def require_text_list(record: Mapping[str, Any], name: str, *, allow_empty: bool = False) -> list[str]:
    """A list of strings; tuples and other sequences from a hub dataset are accepted."""
    if name not in record or record[name] is None:
        raise RecordError(name, "is missing")
    value = record[name]
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise RecordError(name, f"expected a list of strings, got {type(value).__name__}")
    if any(not isinstance(item, str) for item in value):
        raise RecordError(name, "expected a list of strings")
    if not value and not allow_empty:
        raise RecordError(name, "is an empty list")
    return list(value)


def short_hash(text: str) -> str:
    """A stable 12-hex-digit id for records that carry none (sha1 is enough: this is not security)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
