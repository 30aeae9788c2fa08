"""An index of a records file: one row per problem (its latest record), with the byte range of that
record, so that tables are served from the index and a problem page reads one line.

The index is cached beside the records file (`records.index.json`) and extended, not rebuilt,
when the run appends records; a records file that shrank or was rewritten is indexed again. A run
directory that cannot be written (someone else's run) is indexed in memory only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

INDEX_FILE = "records.index.json"
INDEX_VERSION = 2
SEARCH_CHARS = 4000  # of the problem and of the answer, kept for text search
PREVIEW_CHARS = 160


class IndexRow(BaseModel):
    """What the problem table shows of one problem, and where its record is."""

    id: str
    digest: str = Field(default="", description="The sample's digest: whether the record is of the current problem.")
    offset: int
    length: int
    status: str
    grade: str | None = None
    score: float | None = None
    termination: str | None = None
    rounds: int = 0
    tokens: int = 0
    completion_tokens: int = 0
    wall_time_s: float = 0.0
    calls: int = 0
    failed_calls: int = 0
    fallbacks: int = 0
    ceo: list[str] = Field(default_factory=list, description="Each round's CEO decision (continue/stop/fallback).")
    mode: str = "multi-agent"
    problem: str = ""
    answer: str = ""
    finished_at: float = 0.0
    records: int = Field(default=1, description="Records of this problem in the file (retries, reruns).")


class RecordsIndex(BaseModel):
    version: int = INDEX_VERSION
    indexed_bytes: int = 0
    head_digest: str = ""  # of the file's first line: a rewritten file is indexed again
    rows: list[IndexRow] = Field(default_factory=list)


def head_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.sha256(handle.readline()).hexdigest()[:16]


def row_from_record(record: dict[str, Any], offset: int, length: int) -> IndexRow:
    result = record.get("result") or {}
    grade = record.get("grade") or {}
    usage = result.get("usage") or {}
    prompt = sum(entry.get("prompt_tokens", 0) for entry in usage.values())
    completion = sum(entry.get("completion_tokens", 0) for entry in usage.values())
    decisions = [
        "fallback" if plan.get("source") == "fallback" else str(plan.get("decision", ""))
        for plan in result.get("ceo_decisions") or []
        if plan.get("source") != "fixed"
    ]
    sample = record.get("sample") or {}
    return IndexRow(
        id=str(sample.get("id", "")),
        digest=str(record.get("sample_digest") or ""),
        offset=offset,
        length=length,
        status=str(record.get("status", "")),
        grade=grade.get("status"),
        score=grade.get("score"),
        termination=result.get("termination"),
        rounds=int(result.get("rounds") or 0),
        tokens=prompt + completion,
        completion_tokens=completion,
        wall_time_s=float(result.get("wall_time_s") or 0.0),
        calls=len(result.get("calls") or []),
        failed_calls=int(result.get("failed_calls") or 0),
        fallbacks=int(result.get("fallbacks") or 0),
        ceo=decisions,
        mode=str(record.get("mode", "multi-agent")),
        problem=str(sample.get("input", ""))[:SEARCH_CHARS],
        answer=str(result.get("final_answer") or "")[:SEARCH_CHARS],
        finished_at=float(record.get("finished_at") or 0.0),
    )


class RecordsFile:
    """A records file and its index, kept up to date as the file grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache_path = path.with_name(INDEX_FILE)
        self.index = RecordsIndex()
        self._position: dict[str, int] = {}
        self._loaded = False
        self._lock = threading.Lock()  # the server refreshes from worker threads

    def refresh(self) -> bool:
        """Index what was appended since the last look; True when rows changed."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> bool:
        if not self._loaded:
            self._loaded = True
            self._load_cache()
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            changed = bool(self.index.rows)
            self._reset()
            return changed
        rewritten = bool(self.index.indexed_bytes) and head_digest(self.path) != self.index.head_digest
        if size < self.index.indexed_bytes or rewritten:
            self._reset()
        if size == self.index.indexed_bytes:
            return False
        added = self._read_from(self.index.indexed_bytes, size)
        if added:
            self._save_cache()
        return added

    @property
    def rows(self) -> list[IndexRow]:
        """A snapshot: a refresh in another thread never changes the list a caller holds."""
        with self._lock:
            return list(self.index.rows)

    def row(self, problem_id: str) -> IndexRow | None:
        with self._lock:
            position = self._position.get(problem_id)
            return None if position is None else self.index.rows[position]

    def read_record(self, row: IndexRow) -> dict[str, Any]:
        with self.path.open("rb") as handle:
            handle.seek(row.offset)
            return json.loads(handle.read(row.length))

    def _reset(self) -> None:
        self.index = RecordsIndex()
        self._position = {}

    def _read_from(self, start: int, size: int) -> bool:
        added = False
        with self.path.open("rb") as handle:
            handle.seek(start)
            offset = start
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a record still being written (or cut by a kill): indexed once complete
                with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError, ValidationError, TypeError):
                    self._add(row_from_record(json.loads(line), offset, len(line)))
                    added = True
                offset += len(line)
                if offset >= size:
                    break
        if offset > start and not self.index.head_digest:
            self.index.head_digest = head_digest(self.path)
        self.index.indexed_bytes = offset
        return added

    def _add(self, row: IndexRow) -> None:
        position = self._position.get(row.id)
        if position is None:
            self._position[row.id] = len(self.index.rows)
            self.index.rows.append(row)
            return
        row.records = self.index.rows[position].records + 1
        self.index.rows[position] = row  # the last record of a problem wins, as everywhere else

    def _load_cache(self) -> None:
        try:
            cached = RecordsIndex.model_validate_json(self.cache_path.read_bytes())
        except (OSError, ValueError):
            return
        if cached.version != INDEX_VERSION:
            return
        self.index = cached
        self._position = {row.id: position for position, row in enumerate(cached.rows)}

    def _save_cache(self) -> None:
        """Atomically, beside the records; skipped where the run directory cannot be written."""
        with contextlib.suppress(OSError):
            handle, name = tempfile.mkstemp(dir=self.path.parent, prefix=".index-", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    file.write(self.index.model_dump_json())
                os.replace(name, self.cache_path)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(name)
