"""A run directory: append-only, resumable by sample id.

    <run dir>/config.yaml     the resolved task config (a resumed run must match it)
    <run dir>/records.jsonl   one JSON record per finished problem, appended and fsynced
    <run dir>/run.log         what happened, with timestamps
    <run dir>/summary.json    written by grading (`agentverse-evaluate`)

A process killed mid-write leaves at most one partial last line; it is cut off on resume.
When a problem appears more than once (a failed attempt retried later), the last record wins.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agentverse.environments.tasksolving.environment import ProblemResult
from agentverse.graders.base import Grade
from dataloader.base import Sample

CONFIG_FILE = "config.yaml"
RECORDS_FILE = "records.jsonl"
LOG_FILE = "run.log"
SUMMARY_FILE = "summary.json"


class RunRecord(BaseModel):
    """One problem: the sample (so re-grading needs no data files), the outcome and its grade."""

    sample: Sample
    status: Literal["ok", "failed"]
    error: str | None = None
    grade: Grade | None = None
    result: ProblemResult | None = None
    mode: Literal["multi-agent", "single-agent"] = "multi-agent"
    finished_at: float = Field(default_factory=time.time)

    @property
    def sample_id(self) -> str:
        return self.sample.id


class RunDirError(ValueError):
    """The run directory cannot be used as asked (e.g. resumed with another config)."""


class RunDirectory:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records_path = path / RECORDS_FILE
        self.config_path = path / CONFIG_FILE
        self.log_path = path / LOG_FILE
        self.summary_path = path / SUMMARY_FILE

    def prepare(self, resolved_config: str) -> None:
        """Create the directory, or check that a resumed run uses the same config."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            if self.config_path.read_text(encoding="utf-8") != resolved_config:
                raise RunDirError(
                    f"{self.config_path}: this run directory was started with a different config; "
                    "use another --run-dir (or delete the directory to start over)"
                )
        else:
            temporary = self.config_path.with_suffix(".tmp")
            temporary.write_text(resolved_config, encoding="utf-8")
            temporary.replace(self.config_path)
        self.repair_tail()

    def repair_tail(self) -> None:
        """Cut a partial last line left by a killed process, so appends start on a fresh line."""
        if not self.records_path.exists():
            return
        data = self.records_path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        with self.records_path.open("r+b") as handle:
            handle.truncate(keep)
        self.log(f"cut a partial last record ({len(data) - keep} bytes) left by an interrupted run")

    def iter_records(self) -> Iterator[RunRecord]:
        if not self.records_path.exists():
            return
        with self.records_path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break  # a partial line from a process killed mid-write
                try:
                    yield RunRecord.model_validate_json(line)
                except ValidationError:
                    continue

    def latest_records(self) -> dict[str, RunRecord]:
        """The last record of each sample id."""
        return {record.sample_id: record for record in self.iter_records()}

    def finished_ids(self) -> set[str]:
        """Ids that need no more work: failed problems are retried on resume."""
        return {sample_id for sample_id, record in self.latest_records().items() if record.status == "ok"}

    def append(self, record: RunRecord) -> None:
        line = record.model_dump_json() + "\n"
        with self.records_path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def log(self, message: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {message}\n")

    def write_summary(self, summary: dict[str, Any]) -> None:
        temporary = self.summary_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        temporary.replace(self.summary_path)
