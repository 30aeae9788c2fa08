"""The runs a viewer shows: run directories found under the paths given, with their statistics
computed from the index (so a run in progress shows its score so far)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from agentverse.runs.store import CONFIG_FILE, RECORDS_FILE, SLICE_FILE, SUMMARY_FILE
from agentverse.sweeps.stats import standard_error
from agentverse.view.index import IndexRow, RecordsFile

SEARCH_DEPTH = 4  # run directories this deep under a path given (a sweep: points/<system>/run-K)


class RunStats(BaseModel):
    """A run's row in the runs table."""

    key: str
    name: str
    group: str
    path: str
    task: str = ""
    model: str = ""
    config_digest: str = ""
    sweep: bool = False
    problems: int = 0
    completed: int = 0
    errors: int = 0
    no_answer: int = 0
    score: float | None = None
    standard_error: float | None = None
    tokens: int = 0
    wall_time_s: float | None = None


class Run:
    def __init__(self, key: str, path: Path, group: str, sweep: bool) -> None:
        self.key = key
        self.path = path
        self.group = group
        self.sweep = sweep
        self.records = RecordsFile(path / RECORDS_FILE)
        self.task, self.model, self.config_digest = read_config(path / CONFIG_FILE)

    @property
    def name(self) -> str:
        """The run's path from the folder of the path it was found under, e.g. `m1-32b/run-1`."""
        return f"{self.group}/{self.path.name}" if self.group not in ("", ".") else self.path.name

    def stats(self) -> RunStats:
        rows, problems = self.current_rows()
        return run_stats(self, rows, problems)

    def current_rows(self) -> tuple[list[IndexRow], int]:
        """The rows of the run's slice (its latest invocation's problems) whose record is of the
        problem as it is now, as the run's summary counts them, and the slice's size. Without a
        slice.json: every row."""
        self.records.refresh()
        rows = list(self.records.rows)
        entries = read_slice(self.path)
        if entries is None:
            return rows, len(rows)
        current = {(row.id, row.digest) for row in rows}
        wanted = {entry for entry in entries if entry in current}
        return [row for row in rows if (row.id, row.digest) in wanted], len(entries)

    @property
    def version(self) -> str:
        """Changes when the table may: records appended, or a new invocation's slice written."""
        try:
            stamp = (self.path / SLICE_FILE).stat().st_mtime_ns
        except OSError:
            stamp = 0
        return f"{self.records.index.indexed_bytes}-{stamp}"


def read_config(path: Path) -> tuple[str, str, str]:
    """(benchmark, model, digest of the config file); blanks where it cannot be read."""
    try:
        text = path.read_bytes()
        config = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError):
        return "", "", ""
    task = (config.get("task") or {}).get("name", "") if isinstance(config, dict) else ""
    model = (config.get("llm") or {}).get("model", "") if isinstance(config, dict) else ""
    return str(task), str(model), hashlib.sha256(text).hexdigest()[:12]


def read_slice(path: Path) -> list[tuple[str, str]] | None:
    try:
        entries = json.loads((path / SLICE_FILE).read_text(encoding="utf-8"))
        return [(str(entry["id"]), str(entry["digest"])) for entry in entries]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def run_stats(run: Run, rows: list[IndexRow], problems: int) -> RunStats:
    completed = [row for row in rows if row.status == "ok" and row.score is not None]
    scores = [row.score for row in completed if row.score is not None]
    score = 100 * sum(scores) / len(scores) if scores else None
    error = 100 * standard_error(scores) if len(scores) > 1 else None
    return RunStats(
        key=run.key,
        name=run.name,
        group=run.group,
        path=str(run.path),
        task=run.task,
        model=run.model,
        config_digest=run.config_digest,
        sweep=run.sweep,
        problems=problems,
        completed=len(completed),
        errors=sum(row.status == "error" for row in rows),
        no_answer=sum(row.grade == "no_answer" for row in completed),
        score=None if score is None or math.isnan(score) else score,
        standard_error=error,
        tokens=sum(row.tokens for row in rows),
        wall_time_s=wall_time(run.path, rows),
    )


def wall_time(path: Path, rows: list[IndexRow]) -> float | None:
    """The summary's run wall time, else first start to last finish of the records."""
    try:
        summary: dict[str, Any] = json.loads((path / SUMMARY_FILE).read_text())
        if isinstance(summary.get("run_wall_time_s"), int | float):
            return float(summary["run_wall_time_s"])
    except (OSError, ValueError):
        pass
    spans = [(row.finished_at - row.wall_time_s, row.finished_at) for row in rows if row.finished_at]
    return max(end for _, end in spans) - min(start for start, _ in spans) if spans else None


class SweepPoint(BaseModel):
    """One row of a sweep's points.csv (a grid point, its matched single agent, or a baseline)."""

    system: str
    kind: str
    score: float | None = None
    standard_error: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    problems: int = 0
    errors: int = 0
    mean_completion_tokens: float | None = None
    pass_at_k: float | None = None
    run_key: str | None = Field(default=None, description="The viewer's key of the point's first run.")


class SweepTable(BaseModel):
    name: str
    path: str
    points: list[SweepPoint]


def find_sweeps(paths: list[Path], runs: list[Run]) -> list[SweepTable]:
    """The sweeps among the paths, each with its points.csv rows linked to their runs."""
    tables = []
    for root in paths:
        csv_path = root / "points.csv"
        if not csv_path.is_file():
            continue
        first_runs = {
            run.path.parent.name: run.key for run in reversed(runs) if run.path.parent.parent == root / "points"
        }
        points = []
        with contextlib.suppress(OSError, csv.Error, ValueError), csv_path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                values = {key: value for key, value in row.items() if value not in ("", None)}
                point = SweepPoint.model_validate(values)
                points.append(point.model_copy(update={"run_key": first_runs.get(point.system.split(" k=")[0])}))
        tables.append(SweepTable(name=root.name, path=str(root), points=points))
    return tables


def find_runs(paths: list[Path]) -> list[Run]:
    """Every run directory (one holding records.jsonl or config.yaml) at or under the paths, in order."""
    return RunRegistry(paths).all()


class RunRegistry:
    """The runs under the paths, found again on every `refresh` (a run started since, the next
    `run-K`, a sweep's later points); each keeps its key and its index for as long as it is served."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.runs: dict[str, Run] = {}
        self._keys: dict[Path, str] = {}
        self.refresh()

    def refresh(self) -> None:
        for root in self.paths:
            sweep = (root / "points.csv").exists() or (root / "points").is_dir()
            for directory in run_directories(root):
                resolved = directory.resolve()
                if resolved in self._keys:
                    continue
                key = f"r{len(self.runs)}"
                self._keys[resolved] = key
                # Named from the path as given (a link to a run elsewhere keeps the name it has here).
                label = Path(os.path.relpath(directory, root.parent))
                self.runs[key] = Run(key, directory, str(label.parent), sweep)

    def all(self) -> list[Run]:
        return list(self.runs.values())

    def get(self, key: str) -> Run | None:
        if key not in self.runs:
            self.refresh()
        return self.runs.get(key)


def run_directories(root: Path) -> list[Path]:
    if is_run(root):
        return [root]
    found: list[Path] = []
    for depth in range(1, SEARCH_DEPTH + 1):
        found += sorted(path for path in root.glob("/".join(["*"] * depth)) if path.is_dir() and is_run(path))
    return sorted(found, key=lambda path: (str(path.parent), natural_key(path.name)))


def is_run(path: Path) -> bool:
    return (path / RECORDS_FILE).exists() or ((path / CONFIG_FILE).exists() and (path / "slice.json").exists())


def natural_key(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("-")
    return (stem, int(number)) if number.isdigit() else (name, 0)
