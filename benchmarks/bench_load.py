#!/usr/bin/env python
"""Load: N trivial problems through the whole loop against a zero-latency fake server.

The fake server runs in its own process; `agentverse-benchmark` runs in another, and its peak
RSS (`ru_maxrss` from `wait4`) and wall time are reported, with the number of records written.
Usage: python benchmarks/bench_load.py [--problems 1000 250] [--concurrency 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

from agentverse.testing.machine import free_port

ROOT = Path(__file__).resolve().parent.parent
TASK = "tasksolving/math500/smollm2"


class LoadResult(BaseModel):
    problems: int
    concurrency: int
    wall_s: float
    peak_rss_mb: float
    records: int
    completed: int
    errors: int
    returncode: int


def write_problems(path: Path, count: int) -> None:
    rows = ({"id": f"q{index}", "input": f"What is {index}?", "target": "42", "metadata": {}} for index in range(count))
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def start_server(port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "agentverse.testing.fake_server", "--port", str(port), "--model", "fake"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    server.stdout.readline()  # "serving on ..."
    return server


def run_once(base_url: str, problems: int, concurrency: int, folder: Path) -> LoadResult:
    data, run_dir = folder / f"data-{problems}.jsonl", folder / f"run-{problems}"
    write_problems(data, problems)
    command = [
        sys.executable, "-m", "agentverse_command.benchmark", "--task", TASK, "--data", str(data),
        "--run-dir", str(run_dir), "--concurrency", str(concurrency), "--base-url", base_url, "--model", "fake",
        "--no-thinking", "--max-concurrency", str(concurrency), "--no-progress",
    ]  # fmt: skip
    started = time.perf_counter()
    returncode, peak_kb = peak_rss_of(command)
    wall = time.perf_counter() - started
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    records = sum(1 for _ in (run_dir / "records.jsonl").open(encoding="utf-8"))
    return LoadResult(
        problems=problems,
        concurrency=concurrency,
        wall_s=round(wall, 2),
        peak_rss_mb=round(peak_kb / 1024, 1),
        records=records,
        completed=summary["completed"],
        errors=summary["errors"],
        returncode=returncode,
    )


# Linux records, at exec, the peak RSS of the forked copy of the parent in the child's
# ru_maxrss: measured straight from a large process (pytest) it would report the parent's size.
# A small launcher, itself exec'd fresh, starts the command and reports its own child's peak.
LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"returncode": os.waitstatus_to_exitcode(status), "peak_kb": usage.ru_maxrss}))
"""


def peak_rss_of(command: list[str]) -> tuple[int, int]:
    """(exit code, peak RSS in KiB) of a command, measured without the caller's own size."""
    launched = subprocess.run([sys.executable, "-c", LAUNCHER, *command], cwd=ROOT, capture_output=True, text=True)
    report = json.loads(launched.stdout)
    return int(report["returncode"]), int(report["peak_kb"])


def measure(problem_counts: list[int], concurrency: int) -> list[LoadResult]:
    port = free_port()
    server = start_server(port)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            return [
                run_once(f"http://127.0.0.1:{port}/v1", count, concurrency, Path(scratch)) for count in problem_counts
            ]
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, nargs="+", default=[1000, 250])
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    for result in measure(args.problems, args.concurrency):
        print(result.model_dump_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
