"""A run directory: append-only, resumable by sample id.

    <run dir>/config.yaml     the resolved task config (a resumed run must match it, endpoint aside)
    <run dir>/records.jsonl   one JSON record per finished problem, appended and fsynced
    <run dir>/slice.json      the problems (id + sample digest) of the latest invocation
    <run dir>/run.log         what happened, with timestamps
    <run dir>/summary.json    the typed run summary (`RunSummary`), over exactly that slice

A process killed mid-write leaves at most one partial last line; it is cut off on resume.
When a problem appears more than once (an error retried later, a changed sample run again),
the last record wins. A record counts for a problem only while its sample digest matches the
problem's current content, so changed problems or targets under the same id are run again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentverse.config.schema import TaskConfig
from agentverse.environments.tasksolving.environment import ProblemResult, ProblemStatus
from agentverse.graders.base import Grade
from agentverse.llms.gate import EndpointLoad
from dataloader.base import Sample

CONFIG_FILE = "config.yaml"
RECORDS_FILE = "records.jsonl"
SLICE_FILE = "slice.json"
LOG_FILE = "run.log"
SUMMARY_FILE = "summary.json"
LOAD_FILE = "load.json"  # how busy each endpoint was kept in the latest invocation
LOCK_FILE = ".lock"
# Transport settings: they decide where and how requests travel, never what a result is (an
# infrastructure failure never changes a result), so a run may resume with other values.
TRANSPORT_FIELDS = (
    "base_urls",
    "api_key_env",
    "max_concurrency",
    "timeout_s",
    "min_tokens_per_s",
    "timeout_floor_s",
    "max_retries",
    "retry_backoff_s",
    "circuit_breaker_failures",
    "endpoints_file",
)


def sample_digest(sample: Sample) -> str:
    """A stable digest of everything the agents and the grader see of a problem."""
    canonical = json.dumps(sample.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


RunMode = Literal["multi-agent", "single-agent", "self-consistency"]


class RunRecord(BaseModel):
    """One problem: the sample (so re-grading needs no data files), the outcome and its grade."""

    sample: Sample
    sample_digest: str = Field(default="", description="`sample_digest(sample)`; filled in when empty.")
    status: ProblemStatus = Field(description="`ok`: ran to an end and graded; `error`: excluded, retried.")
    error: str | None = None
    grade: Grade | None = None
    result: ProblemResult | None = None
    mode: RunMode = "multi-agent"
    finished_at: float = Field(default_factory=time.time)

    @model_validator(mode="after")
    def _fill_digest(self) -> RunRecord:
        if not self.sample_digest:
            self.sample_digest = sample_digest(self.sample)
        return self

    @property
    def sample_id(self) -> str:
        return self.sample.id


class RecordHead(BaseModel):
    """The part of a record that resuming needs; the trace is skipped."""

    model_config = ConfigDict(extra="ignore")

    sample: Sample
    status: str
    sample_digest: str = ""

    @property
    def digest(self) -> str:
        return self.sample_digest or sample_digest(self.sample)


def last_line_end(handle: BinaryIO, size: int, block: int = 1 << 16) -> int:
    """The offset just after the last newline before `size` (0 when there is none)."""
    position = size
    while position > 0:
        start = max(0, position - block)
        handle.seek(start)
        found = handle.read(position - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        position = start
    return 0


class SliceEntry(BaseModel):
    id: str
    digest: str


def data_slice(samples: list[Sample]) -> list[SliceEntry]:
    return [SliceEntry(id=sample.id, digest=sample_digest(sample)) for sample in samples]


def comparable_config(config: TaskConfig) -> dict[str, Any]:
    """The config without its transport settings: what must match for a run to resume."""
    dumped = config.model_dump(mode="json")
    for name in TRANSPORT_FIELDS:
        dumped["llm"].pop(name, None)
    return dumped


def changed_transport(old: TaskConfig, new: TaskConfig) -> list[str]:
    return [name for name in TRANSPORT_FIELDS if getattr(old.llm, name) != getattr(new.llm, name)]


class RunDirError(ValueError):
    """The run directory cannot be used as asked (e.g. resumed with another config)."""


class RunDirectory:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records_path = path / RECORDS_FILE
        self.config_path = path / CONFIG_FILE
        self.log_path = path / LOG_FILE
        self.summary_path = path / SUMMARY_FILE

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the run directory for one runner: a second one stops at once, naming the holder.

        `flock` is released by the kernel when its holder dies, so a killed run never blocks the next.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / LOCK_FILE).open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise RunDirError(
                    f"{self.path}: another runner (PID {holder}) is using this run directory; "
                    "wait for it to finish or use another --run-dir"
                ) from None
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def prepare(self, config: TaskConfig) -> None:
        """Create the directory, or check that a resumed run uses the same config.

        Only the transport settings (endpoint URLs, key variable, limits, retries) may differ;
        the new ones are written and the change is logged.
        """
        from agentverse.config.loader import ConfigError, dump_config, validate_config

        self.path.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            try:
                raw = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
                previous = validate_config(raw, str(self.config_path))
            except (ConfigError, yaml.YAMLError) as error:
                message = f"{self.config_path}: cannot read this run's config ({error}); use another --run-dir"
                raise RunDirError(message) from None
            if comparable_config(previous) != comparable_config(config):
                raise RunDirError(
                    f"{self.config_path}: this run directory was started with a different config; "
                    "use another --run-dir (or delete the directory to start over)"
                )
            changed = changed_transport(previous, config)
            if changed:
                self.log(f"resumed with other transport settings: {', '.join(changed)}")
        self.write_atomically(self.config_path, dump_config(config))
        self.repair_tail()

    def repair_tail(self) -> None:
        """Cut a partial last line left by a killed process, so appends start on a fresh line.

        Reads backwards from the end in blocks: a large records file is never loaded whole.
        """
        if not self.records_path.exists():
            return
        with self.records_path.open("r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            keep = last_line_end(handle, size)
            handle.truncate(keep)
        self.log(f"cut a partial last record ({size - keep} bytes) left by an interrupted run")

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        """(offset, line) of every complete line; a partial last line is never read."""
        if not self.records_path.exists():
            return
        with self.records_path.open("rb") as handle:
            offset = 0
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a partial line from a process killed mid-write
                yield offset, line
                offset += len(line)

    def index(self) -> dict[str, tuple[int, RecordHead]]:
        """Id -> (offset, head) of each problem's last record, reading only what resuming needs."""
        latest: dict[str, tuple[int, RecordHead]] = {}
        for offset, line in self._lines():
            with contextlib.suppress(ValidationError):
                head = RecordHead.model_validate_json(line)
                latest[head.sample.id] = (offset, head)
        return latest

    def read_at(self, offsets: list[int]) -> Iterator[RunRecord]:
        """The full records at these offsets, one at a time (memory stays flat for any run size)."""
        with self.records_path.open("rb") as handle:
            for offset in sorted(offsets):
                handle.seek(offset)
                yield RunRecord.model_validate_json(handle.readline())

    def latest_records(self) -> dict[str, RunRecord]:
        """The last record of each sample id (loads them all: prefer `slice_records` for large runs)."""
        return {record.sample_id: record for record in self.read_at([offset for offset, _ in self.index().values()])}

    def finished_digests(self) -> dict[str, str]:
        """Id -> sample digest of problems that need no more work (errors are retried on resume)."""
        return {sample_id: head.digest for sample_id, (_, head) in self.index().items() if head.status == "ok"}

    def finished_ids(self) -> set[str]:
        return set(self.finished_digests())

    def write_slice(self, entries: list[SliceEntry]) -> None:
        payload = json.dumps([entry.model_dump() for entry in entries])
        self.write_atomically(self.path / SLICE_FILE, payload)

    def write_load(self, loads: list[EndpointLoad]) -> None:
        self.write_atomically(self.path / LOAD_FILE, json.dumps([load.model_dump() for load in loads]))

    def read_load(self) -> list[EndpointLoad]:
        path = self.path / LOAD_FILE
        try:
            return [EndpointLoad.model_validate(entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError):  # absent or damaged: the profile is only reported, never needed
            return []

    def read_slice(self) -> list[SliceEntry] | None:
        """The latest invocation's problems, or None for a run directory written before slices."""
        path = self.path / SLICE_FILE
        if not path.exists():
            return None
        return [SliceEntry.model_validate(entry) for entry in json.loads(path.read_text(encoding="utf-8"))]

    def slice_records(self, entries: list[SliceEntry] | None) -> tuple[Iterator[RunRecord], int]:
        """The latest record of each problem of the slice whose sample still matches (streamed, in
        file order), and how many problems of the slice have none (not run yet). Without a slice:
        every problem's latest record."""
        latest = self.index()
        if entries is None:
            return self.read_at([offset for offset, _ in latest.values()]), 0
        offsets = [
            latest[entry.id][0]
            for entry in entries
            if entry.id in latest and latest[entry.id][1].digest == entry.digest
        ]
        return self.read_at(offsets), len(entries) - len(offsets)

    def append(self, record: RunRecord) -> None:
        self.append_many([record])

    def append_many(self, records: list[RunRecord]) -> None:
        """Append records and fsync once: a batch costs one disk flush, not one per record."""
        text = "".join(record.model_dump_json() + "\n" for record in records)
        with self.records_path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def log(self, message: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {message}\n")

    def write_summary(self, summary: BaseModel) -> None:
        self.write_atomically(self.summary_path, summary.model_dump_json(indent=2))

    @staticmethod
    def write_atomically(path: Path, text: str) -> None:
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        # The rename itself is only durable once the directory entry is on disk.
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
