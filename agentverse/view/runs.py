"""The runs a viewer shows: run directories found under the paths given, with their statistics
computed from the index (so a run in progress shows its score so far)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from agentverse.runs.store import CONFIG_FILE, RECORDS_FILE, SUMMARY_FILE
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
        self.records.refresh()
        return run_stats(self, self.records.rows)


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


def run_stats(run: Run, rows: list[IndexRow]) -> RunStats:
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
        problems=max(len(rows), slice_size(run.path)),
        completed=len(completed),
        errors=sum(row.status == "error" for row in rows),
        no_answer=sum(row.grade == "no_answer" for row in completed),
        score=None if score is None or math.isnan(score) else score,
        standard_error=error,
        tokens=sum(row.tokens for row in rows),
        wall_time_s=wall_time(run.path, rows),
    )


def slice_size(path: Path) -> int:
    try:
        entries = json.loads((path / "slice.json").read_text())
    except (OSError, ValueError):
        return 0
    return len(entries) if isinstance(entries, list) else 0


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
    runs: list[Run] = []
    seen: set[Path] = set()
    for root in paths:
        sweep = (root / "points.csv").exists() or (root / "points").is_dir()
        for directory in run_directories(root):
            resolved = directory.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            label = directory.resolve().relative_to(root.resolve().parent)
            runs.append(Run(f"r{len(runs)}", directory, str(label.parent), sweep))
    return runs


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
