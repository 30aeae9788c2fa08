"""Run every system of a sweep at once: one event loop, one client per endpoint, one budget of
problems in flight shared by all points, each run in its own resumable run directory.

A matched single agent starts when its grid point's runs are done (it needs their mean
completion tokens); everything else starts together, so the sweep takes about as long as its
longest point rather than the sum. Rerunning resumes every run directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import yaml

from agentverse.config.schema import TaskConfig
from agentverse.llms.base import Backend
from agentverse.llms.pool import ModelPool
from agentverse.runs.runner import SharedClient, run_benchmark
from agentverse.runs.store import RunDirectory, RunDirError, RunRecord
from agentverse.sweeps.spec import SweepSpec, System, matched_single_agent, seeded, systems
from dataloader.base import Sample

POINTS = "points"
HEARTBEAT_S = 30.0


def run_directory(out: Path, system: str, run: int) -> RunDirectory:
    return RunDirectory(out / POINTS / system / f"run-{run}")


def run_records(directory: RunDirectory) -> list[RunRecord]:
    """The latest record of each problem of the run's slice (its latest invocation's problems)."""
    if not directory.records_path.exists():
        return []
    records, _ = directory.slice_records(directory.read_slice())
    return list(records)


def mean_completion_tokens(out: Path, system: str, runs: int) -> float | None:
    """Completion tokens per completed problem, over the system's runs (the matched-compute budget)."""
    tokens = [
        record.result.completion_tokens
        for run in range(1, runs + 1)
        for record in run_records(run_directory(out, system, run))
        if record.status == "ok" and record.result is not None
    ]
    return statistics.fmean(tokens) if tokens else None


def unfinished(out: Path, system: str, runs: int, problems: int) -> int:
    """Problems of the system's runs without a completed record (errors included)."""
    done = sum(
        sum(record.status == "ok" for record in run_records(run_directory(out, system, run)))
        for run in range(1, runs + 1)
    )
    return runs * problems - done


def recorded_solver_budget(directory: RunDirectory) -> int | None:
    """The solver budget a single-agent run directory was started with (kept when resuming)."""
    if not directory.config_path.exists():
        return None
    try:
        raw = yaml.safe_load(directory.config_path.read_text(encoding="utf-8"))
        solver = next(agent for agent in raw["agents"] if agent["agent_type"] == "solver")
        return int(solver["llm"]["max_tokens"])
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, ValueError, StopIteration):
        raise RunDirError(
            f"{directory.config_path}: damaged (no agents[solver].llm.max_tokens to resume the matched single "
            "agent with); restore it or remove that run directory"
        ) from None


class LineCounter:
    """Lines written to growing files, reading only what was appended since the last count."""

    def __init__(self) -> None:
        self.seen: dict[Path, tuple[int, int]] = {}  # path -> (bytes read, lines in them)

    def count(self, path: Path) -> int:
        offset, lines = self.seen.get(path, (0, 0))
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                added = handle.read()
        except OSError:
            return lines
        self.seen[path] = (offset + len(added), lines + added.count(b"\n"))
        return self.seen[path][1]


class Sweep:
    def __init__(self, spec: SweepSpec, base: TaskConfig, samples: list[Sample], out: Path, source: str) -> None:
        self.spec = spec
        self.samples = samples
        self.out = out
        self.systems = systems(spec, base, source)
        self.clients: dict[str, ModelPool] = {}
        self.backends: dict[str, Backend] = {}  # shared by the clients: one per server and transport
        self.stopped: list[str] = []
        self.heartbeat_s = HEARTBEAT_S

    def client(self, config: TaskConfig) -> ModelPool:
        """One client per endpoint configuration, shared by every system that uses it."""
        key = json.dumps(
            {"llm": config.llm.model_dump(mode="json"), **config.model_dump(mode="json", include={"endpoints"})},
            sort_keys=True,
        )
        if key not in self.clients:
            self.clients[key] = ModelPool.from_config(config, self.backends)
        return self.clients[key]

    async def run(self, concurrency: int | None, held: contextlib.ExitStack) -> list[System]:
        for system in self.systems:
            self.client(system.config)
        heartbeat = None
        try:
            for client in self.clients.values():
                await client.check()
                await client.prepare(lambda line: print(line, file=sys.stderr, flush=True))
            gate = asyncio.Semaphore(concurrency or self.problems_in_flight())
            heartbeat = asyncio.ensure_future(self.heartbeat())
            finished = await asyncio.gather(*(self.run_system(system, gate, held) for system in self.systems))
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            await asyncio.gather(*(backend.aclose() for backend in self.backends.values()))
        return [system for group in finished for system in group]  # `stopped` says what is left to do

    def problems_in_flight(self) -> int:
        """What the default endpoints (where most calls go) take, each server counted once; as the
        benchmark does, a small endpoint beside them (a CEO's) adds no problems."""
        defaults = {id(pool.default.backend): pool.default for pool in self.clients.values()}
        return sum(client.request_cap() for client in defaults.values())

    async def heartbeat(self) -> None:
        """A line every `heartbeat_s`: how many problem runs are recorded so far, of how many."""
        started = time.perf_counter()
        total = len(self.systems) * self.spec.runs * len(self.samples)
        counter = LineCounter()
        while True:
            await asyncio.sleep(self.heartbeat_s)
            recorded = sum(counter.count(path) for path in (self.out / POINTS).glob("*/run-*/records.jsonl"))
            elapsed = time.perf_counter() - started
            print(
                f"sweep: {recorded} problem runs recorded (of about {total}), {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    async def run_system(self, system: System, gate: asyncio.Semaphore, held: contextlib.ExitStack) -> list[System]:
        await self.run_runs(system, gate, held)
        if system.kind != "mas" or self.spec.baselines.single_agent is None:
            return [system]
        missing = unfinished(self.out, system.name, self.spec.runs, len(self.samples))
        if missing:  # its compute is not known yet: the matched agent waits for a complete point
            self.stopped.append(
                f"{system.name}: {missing} problem run(s) not completed (errors are retried on the next run); "
                "its matched single agent starts once the point is complete"
            )
            return [system]
        matched = self.matched(system)
        if matched is None:  # no problem completed: nothing to match
            return [system]
        await self.run_runs(matched, gate, held)
        return [system, matched]

    def matched(self, point: System) -> System | None:
        kept = recorded_solver_budget(run_directory(self.out, point.name + "+single-agent", 1))
        tokens = mean_completion_tokens(self.out, point.name, self.spec.runs)
        budget = kept if kept is not None else (max(1, round(tokens)) if tokens is not None else None)
        return matched_single_agent(point, budget) if budget is not None else None

    async def run_runs(self, system: System, gate: asyncio.Semaphore, held: contextlib.ExitStack) -> None:
        shared = SharedClient(self.client(system.config), gate)

        async def one(run: int) -> None:
            directory = run_directory(self.out, system.name, run)
            config = seeded(system.config, run)
            try:
                held.enter_context(directory.exclusive())
                directory.prepare(config)
            except OSError as error:
                raise RunDirError(f"{directory.path}: cannot write the run directory ({error.strerror})") from None
            stats = await run_benchmark(
                config,
                self.samples,
                directory,
                progress=False,
                shared=shared,
                single_agent=system.kind == "single-agent",
                self_consistency=system.samples if system.kind == "self-consistency" else None,
            )
            if stats.stopped is not None:
                self.stopped.append(f"{directory.path}: {stats.stopped}")

        await asyncio.gather(*(one(run) for run in range(1, self.spec.runs + 1)))
