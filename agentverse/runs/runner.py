"""Run a whole benchmark: many problems in flight against one shared model client.

Problems run concurrently (bounded by `concurrency`); each endpoint additionally caps its
own requests in flight. Every finished problem is graded once, here, and appended to the run
directory at once with its grade, so a killed run loses at most the problems that were in flight.
A problem that ends in an infrastructure failure (or whose grader could not decide) is recorded
as an error: excluded from the score, listed, and run again on resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from tqdm import tqdm

from agentverse.config.schema import TaskConfig
from agentverse.environments.tasksolving.environment import TaskSolvingEnvironment
from agentverse.environments.tasksolving.self_consistency import SelfConsistencyEnvironment
from agentverse.environments.tasksolving.single_agent import SingleAgentEnvironment
from agentverse.llms.gate import RequestGate
from agentverse.llms.pool import ModelPool
from agentverse.runs.grading import grade_result, with_grade
from agentverse.runs.store import RunDirectory, RunMode, RunRecord, SliceEntry, data_slice
from agentverse.trace import CallEnded, CallStarted, Notice, Observer
from dataloader.base import Sample

CAPS_FOLLOWED_S = 1.0
BAR_REFRESH_S = 1.0  # how often a terminal's bar shows the calls in flight


@dataclass
class RunStats:
    """Live counters behind the progress bar, and the run's outcome."""

    total: int
    skipped: int = 0
    done: int = 0
    errors: int = 0
    graded: int = 0
    score: float = 0.0
    tokens: int = 0
    wall_time_s: float = 0.0
    error_messages: list[str] = field(default_factory=list)
    not_started: int = 0
    stopped: str | None = None  # why the run stopped before every problem was started
    lost: list[str] = field(default_factory=list)  # finished, but their records could not be written
    calls_in_flight: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.score / self.graded if self.graded else None

    def add(self, record: RunRecord) -> None:
        self.done += 1
        if record.status == "error":
            self.errors += 1
            self.error_messages.append(f"{record.sample_id}: {record.error}")
        elif record.grade is not None:
            self.graded += 1
            self.score += record.grade.score
        if record.result is not None:
            self.tokens += record.result.total_tokens

    def observe(self, notice: Notice) -> None:
        """Count the model calls in flight (every problem's trace tells when its calls start and end)."""
        if isinstance(notice, CallStarted):
            self.calls_in_flight += 1
        elif isinstance(notice, CallEnded):
            self.calls_in_flight -= 1

    def score_text(self) -> str:
        return "n/a" if self.accuracy is None else f"{100 * self.accuracy:.1f}%"

    def postfix(self) -> dict[str, str]:
        return {
            "errors": str(self.errors),
            "score": self.score_text(),
            "tokens": f"{self.tokens:,}",
            "calls in flight": str(self.calls_in_flight),
        }

    def progress_line(self, name: str, elapsed_s: float) -> str:
        finished = self.skipped + self.done
        return (
            f"{name}: {finished}/{self.total} done, {self.errors} errors, score {self.score_text()}, "
            f"{self.calls_in_flight} calls in flight, {elapsed_s:.0f} s"
        )


class RunProgress:
    """The run's progress on stderr: a tqdm bar on a terminal; elsewhere (a pipe, `nohup`, a SLURM
    log, where a bar redrawn with carriage returns is noise) a line every `interval_s` seconds."""

    def __init__(self, stats: RunStats, name: str, enabled: bool, interval_s: float) -> None:
        self.stats = stats
        self.name = name
        self.terminal = sys.stderr.isatty()
        self.lines = enabled and not self.terminal
        self.interval_s = interval_s if self.lines else BAR_REFRESH_S
        self.started = time.perf_counter()
        bar_shown = enabled and self.terminal
        self.bar = tqdm(total=stats.total, initial=stats.skipped, disable=not bar_shown, desc=name, unit="problem")

    def written(self, count: int) -> None:
        self.bar.update(count)
        self.bar.set_postfix(self.stats.postfix(), refresh=False)

    async def run(self) -> None:
        if not self.lines and self.bar.disable:
            return
        while True:
            await asyncio.sleep(self.interval_s)
            if self.lines:
                print(
                    self.stats.progress_line(self.name, time.perf_counter() - self.started), file=sys.stderr, flush=True
                )
            else:
                self.bar.set_postfix(self.stats.postfix())  # the calls in flight change between records

    def close(self) -> None:
        self.bar.close()


async def solve_one(
    environment: Environment,
    config: TaskConfig,
    sample: Sample,
    mode: RunMode,
    observer: Observer | None = None,
) -> RunRecord:
    try:
        result = await environment.solve(sample, observer)
    except Exception as error:  # an unexpected bug: record it and keep the other problems going
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        return RunRecord(sample=sample, status="error", error=f"internal error: {detail}", mode=mode)
    if result.status != "ok":
        return RunRecord(sample=sample, status="error", error=result.error, result=result, mode=mode)
    solved = RunRecord(sample=sample, status="ok", result=result, mode=mode)
    return with_grade(solved, await grade_result(config.task.kind, sample, result))


def pending_samples(samples: list[Sample], entries: list[SliceEntry], run_dir: RunDirectory) -> list[Sample]:
    """Problems without a finished record for their current content (new, errored or changed)."""
    finished = run_dir.finished_digests()
    return [sample for sample, entry in zip(samples, entries, strict=True) if finished.get(entry.id) != entry.digest]


class RecordWriter:
    """Appends finished records in batches (one fsync per batch), off the event loop.

    The queue is bounded: a finished problem holds its slot until its record is queued, so a slow
    disk slows the run down instead of letting finished records pile up in memory. When a write
    fails (disk full, read-only), later records are kept in `unwritten` and the run is told to stop.
    """

    def __init__(self, run_dir: RunDirectory, capacity: int, on_written: Callable[[list[RunRecord]], None]) -> None:
        self.run_dir = run_dir
        self.queue: asyncio.Queue[RunRecord] = asyncio.Queue(maxsize=capacity)
        self.on_written = on_written
        self.failure: OSError | None = None
        self.unwritten: list[RunRecord] = []
        self.task = asyncio.create_task(self.run())

    async def put(self, record: RunRecord) -> None:
        await self.queue.put(record)

    async def run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self.write(batch)
            finally:  # whatever happened, nobody may wait forever on these records
                for _ in batch:
                    self.queue.task_done()

    async def write(self, batch: list[RunRecord]) -> None:
        if self.failure is None:
            try:
                await asyncio.to_thread(self.run_dir.append_many, batch)
            except OSError as error:
                self.failure = error
        if self.failure is not None:
            self.unwritten.extend(batch)
        with contextlib.suppress(OSError):  # counting and logging must not kill the writer
            self.on_written(batch)

    async def close(self) -> None:
        """Write what is queued, then stop (also when the run was cancelled)."""
        await self.queue.join()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def checked_client(config: TaskConfig, run_dir: RunDirectory) -> ModelPool:
    """The run's models: endpoints checked, an in-process model loaded (each step said on stderr)."""
    llm = ModelPool.from_config(config)
    try:
        for warning in await llm.check():
            run_dir.log(f"endpoint check: {warning}")
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        await llm.prepare(lambda line: print(line, file=sys.stderr, flush=True))
    except BaseException:
        await llm.aclose()
        raise
    return llm


Environment = TaskSolvingEnvironment | SingleAgentEnvironment | SelfConsistencyEnvironment


@dataclass
class SharedClient:
    """A client (and a problems-in-flight budget) shared by several runs, e.g. the points of a sweep:
    the runs neither check nor close it."""

    llm: ModelPool
    gate: asyncio.Semaphore | RequestGate


async def run_benchmark(
    config: TaskConfig,
    samples: list[Sample],
    run_dir: RunDirectory,
    *,
    concurrency: int | None = None,
    single_agent: bool = False,
    progress: bool = True,
    progress_interval_s: float = 30.0,
    shared: SharedClient | None = None,
    self_consistency: int | None = None,
) -> RunStats:
    """Run the samples not yet finished in `run_dir`. `self_consistency=k`: k solver samples and a
    majority vote per problem instead of the loop; `single_agent`: one solver call. `progress`: a
    bar on a terminal, else a progress line every `progress_interval_s` seconds."""
    # Checked before the slice is replaced: a dead endpoint changes nothing.
    llm = shared.llm if shared is not None else await checked_client(config, run_dir)
    entries = data_slice(samples)  # each sample's digest, computed once
    pending = pending_samples(samples, entries, run_dir)
    run_dir.write_slice(entries)
    stats = RunStats(total=len(samples), skipped=len(samples) - len(pending))
    mode: RunMode = "single-agent" if single_agent else "multi-agent"
    if self_consistency is not None:
        mode = "self-consistency"
    # By default enough problems in flight to keep every endpoint's request cap busy (most calls are
    # one at a time); it follows the caps as replicas join or `auto` moves them.
    follow = concurrency is None and shared is None
    concurrency = concurrency or llm.request_cap()
    run_dir.log(f"start: {len(pending)} to run, {stats.skipped} already done, concurrency {concurrency}, {mode}")
    environment = build_environment(config, llm, single_agent, self_consistency)
    gate = shared.gate if shared is not None else RequestGate(concurrency)
    follower = asyncio.ensure_future(follow_caps(gate, llm)) if isinstance(gate, RequestGate) and follow else None
    display = RunProgress(stats, config.task.name, progress, progress_interval_s)
    ticker = asyncio.ensure_future(display.run())

    def written(batch: list[RunRecord]) -> None:
        for record in batch:
            stats.add(record)
            if record.status == "error":
                run_dir.log(f"error {record.sample_id}: {record.error}")
        display.written(len(batch))

    writer = RecordWriter(run_dir, concurrency, written)
    started = time.perf_counter()

    async def run_one(sample: Sample) -> None:
        async with gate:
            if stats.stopped is not None:
                stats.not_started += 1
                return
            await writer.put(await solve_one(environment, config, sample, mode, stats.observe))
            stats.stopped = stats.stopped or stop_reason(llm, writer)

    try:
        await asyncio.gather(*(run_one(sample) for sample in pending))
    finally:
        for helper in (follower, ticker):
            if helper is not None:
                helper.cancel()
        if shared is None:
            await llm.aclose()
        await writer.close()
        display.close()
        stats.wall_time_s = time.perf_counter() - started
        finish_log(run_dir, stats, writer, llm if shared is None else None)  # a shared client's load is the sweep's
    return stats


async def follow_caps(gate: RequestGate, llm: ModelPool) -> None:
    """Keep the problems in flight at the endpoints' summed caps, which change while running."""
    while True:
        await asyncio.sleep(CAPS_FOLLOWED_S)
        gate.set_limit(llm.request_cap())


def build_environment(
    config: TaskConfig, llm: ModelPool, single_agent: bool, self_consistency: int | None
) -> Environment:
    if self_consistency is not None:
        return SelfConsistencyEnvironment(config, llm, self_consistency)
    if single_agent:
        return SingleAgentEnvironment(config, llm)
    return TaskSolvingEnvironment(config, llm)


def stop_reason(llm: ModelPool, writer: RecordWriter) -> str | None:
    """Why no further problem may start: every endpoint is down, or records can no longer be written."""
    if writer.failure is not None:
        return f"cannot write {writer.run_dir.records_path}: {writer.failure.strerror or writer.failure}"
    if llm.unreachable:
        return llm.unreachable_message()
    return None


def finish_log(run_dir: RunDirectory, stats: RunStats, writer: RecordWriter, llm: ModelPool | None) -> None:
    if writer.unwritten:
        lost = ", ".join(record.sample_id for record in writer.unwritten)
        stats.lost = [record.sample_id for record in writer.unwritten]
        print(f"error: {len(writer.unwritten)} finished problems could not be written: {lost}", file=sys.stderr)
    counts = f"{stats.errors} errors, {stats.not_started} not started, {len(writer.unwritten)} not written"
    with contextlib.suppress(OSError):  # the log may live on the disk that failed
        if llm is not None:
            for notice in llm.notices:
                run_dir.log(f"note: {notice}")
            loads = llm.load()
            if any(load.requests for load in loads):  # a resume with nothing left to run keeps the last profile
                run_dir.write_load(loads)
        if stats.stopped is not None:
            run_dir.log(f"stopped: {stats.stopped}")
        run_dir.log(f"end: {stats.done} run ({counts}) in {stats.wall_time_s:.1f}s")
