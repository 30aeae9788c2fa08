"""Run untrusted Python (model-written code) in a contained child process.

Layers, from hardest to softest:
- a fresh process per run (`python -I -B agentverse/sandbox_child.py`), in its own session so the
  whole process group is killed afterwards; a unique private directory per run (scratch cwd +
  captured output);
- rlimits set before exec: CPU seconds, address space, file size, process count, no core dumps;
- an environment built from scratch, so no variable of the caller (API keys) reaches the child;
- a network namespace (`unshare --net`) when the machine allows it: the child sees no interface;
- a guard installed inside the child before the candidate runs (`sys.addaudithook`, see
  agentverse.sandbox_child): it refuses sockets, process creation, signals to other processes,
  foreign-function calls, writes or deletions outside the scratch dir and reads of other
  processes' /proc entries. The hook is what contains fork bombs when we run as root (RLIMIT_NPROC
  is not enforced for root) and what keeps the network closed where namespaces are unavailable.

The audit hook is best-effort against deliberate escapes (it is in-process); it is meant for
careless or confused model code, which is what a grader meets.

`run_tests(candidate, tests)` passes only when every test ran and passed: the child writes a
per-run random token after the last test, and an exit without it (`sys.exit()`, `unittest.main()`,
`os._exit(0)` before or during the tests) is TESTS_NOT_RUN. `run_python(code)` runs a plain program.

Time: the verdict must not depend on how busy the machine is. The CPU limit (RLIMIT_CPU) is the real
limit; the wall clock is a generous multiple of it, there only to end programs that sleep or block.
Runs go through a per-event-loop gate of one run per core, and a run that hits the wall clock is run
again alone (no other sandbox run of this event loop beside it) before a timeout is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agentverse.sandbox_child import EXIT_TESTS_NOT_RUN, TESTS_NOT_RUN_MARKER

MEBIBYTE = 1024 * 1024
SCRATCH_PREFIX = "mas-tts-sandbox-"
CHILD_PROGRAM = Path(__file__).resolve().with_name("sandbox_child.py")
# A generous wall clock: a CPU-bound run given a third of a core still finishes within it.
WALL_SECONDS_PER_CPU_SECOND = 3.0
STARTUP_ALLOWANCE_S = 2.0  # interpreter start and imports, which a loaded machine slows too
REPORT_PREFIX = "mas-tts-tests-finished:"
REPORT_WINDOW_BYTES = 64 * 1024  # the report is written last; only the end of stdout is searched
RUNS_PER_CORE = 1


class SandboxLimits(BaseModel):
    """Resource limits of one run. CPU time is the limit; the wall clock follows from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_time_s: int = Field(default=10, gt=0, description="CPU seconds (RLIMIT_CPU) of the child.")
    wall_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Wall-clock limit; the group is killed after it. None: derived from cpu_time_s.",
    )
    memory_mb: int = Field(default=1024, gt=0, description="Address-space limit (RLIMIT_AS) in MiB.")
    max_processes: int = Field(
        default=512, gt=0, description="RLIMIT_NPROC (per user, threads included; not enforced for root)."
    )
    max_output_bytes: int = Field(default=64 * 1024, gt=0, description="Bytes of stdout/stderr kept, each.")
    max_file_bytes: int = Field(default=16 * MEBIBYTE, gt=0, description="Largest file the child may write.")

    @property
    def wall_limit_s(self) -> float:
        if self.wall_timeout_s is not None:
            return self.wall_timeout_s
        return WALL_SECONDS_PER_CPU_SECOND * self.cpu_time_s + STARTUP_ALLOWANCE_S


class SandboxStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"  # non-zero exit
    TIMEOUT = "timeout"  # CPU limit, or the wall clock also when run alone
    MEMORY_LIMIT = "memory_limit"
    KILLED = "killed"  # ended by a signal we did not send for a limit
    TESTS_NOT_RUN = "tests_not_run"  # the program ended before every test ran (an exit in the candidate)
    ERROR = "error"  # the sandbox itself failed; says nothing about the candidate


class SandboxResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: SandboxStatus
    returncode: int | None = Field(description="Exit code; negative for a signal; None if it never ran.")
    stdout: str
    stderr: str
    duration_s: float = Field(description="Run time of the last attempt; waiting at the gate excluded.")
    output_truncated: bool = False
    detail: str = Field(default="", description="Why, where the sandbox knows more than the status.")
    attempts: int = Field(default=1, description="2 when a wall-clock timeout was run again alone.")


class _Outcome(BaseModel):
    """What one start of the child left behind."""

    returncode: int
    wall_timed_out: bool
    stdout: str
    stderr: str
    output_truncated: bool
    tests_finished: bool


class RunGate:
    """At most `slots` runs at once. `alone()` takes every slot: it waits for the runs in flight, and
    no `shared()` run starts while it waits. Waiters are served in order, alone ones first.

    Releasing never awaits, so a cancelled run cannot keep its slots.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._in_use = 0
        self._alone_waiters: deque[asyncio.Future[None]] = deque()
        self._shared_waiters: deque[asyncio.Future[None]] = deque()

    @property
    def in_use(self) -> int:
        return self._in_use

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        await self._acquire(self._shared_waiters, 1)
        try:
            yield
        finally:
            self._release(1)

    @contextlib.asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        await self._acquire(self._alone_waiters, self.slots)
        try:
            yield
        finally:
            self._release(self.slots)

    async def _acquire(self, queue: deque[asyncio.Future[None]], wanted: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(future)
        self._wake()
        try:
            await future
        except asyncio.CancelledError:
            if future.cancelled():
                self._wake()  # it may have been holding back the waiters behind it
            else:
                self._release(wanted)  # granted just as it was cancelled: hand the slots on
            raise

    def _release(self, slots: int) -> None:
        self._in_use -= slots
        self._wake()

    def _wake(self) -> None:
        for queue, wanted in ((self._alone_waiters, self.slots), (self._shared_waiters, 1)):
            while queue:
                if queue[0].done():  # its waiter was cancelled
                    queue.popleft()
                elif self._in_use + wanted <= self.slots:
                    self._in_use += wanted
                    queue.popleft().set_result(None)
                else:
                    return  # the first waiter needs more slots: nothing behind it may overtake it


_network_prefix_cache: list[str] | None = None
# One gate per event loop: candidates from every concurrent problem share the machine's cores
# and memory (each may take memory_mb), so runs beyond it wait; waiting does not count as time.
# One run per core: two would halve each run's share of a core and make time limits depend on load.
_run_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RunGate] = weakref.WeakKeyDictionary()


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. a container's cpuset), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_parallelism() -> int:
    """How many sandbox runs go at once by default: one per available core."""
    return RUNS_PER_CORE * available_cores()


def _run_gate() -> RunGate:
    loop = asyncio.get_running_loop()
    if loop not in _run_gates:
        _run_gates[loop] = RunGate(default_parallelism())
    return _run_gates[loop]


async def _works(command: list[str]) -> bool:
    with contextlib.suppress(OSError):
        probe = await asyncio.create_subprocess_exec(
            *command, "true", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        return await probe.wait() == 0
    return False


async def _network_namespace_prefix() -> list[str]:
    """A command prefix giving the child a network namespace, or nothing where none is allowed.

    Root can unshare the network directly; other users only inside a user namespace (where
    the kernel allows unprivileged ones). Probed once per process; concurrent first calls may
    both probe, which is harmless, and run under the in-child guard meanwhile.
    """
    global _network_prefix_cache
    if _network_prefix_cache is None:
        unshare = shutil.which("unshare")
        options = [[unshare, "--net", "--"], [unshare, "--user", "--map-root-user", "--net", "--"]] if unshare else []
        found: list[str] = []
        for option in options:
            if await _works(option):
                found = option
                break
        _network_prefix_cache = found
    return _network_prefix_cache


def _private_roots() -> list[str]:
    """Directories of the caller the candidate may not read: its home and working directory."""
    roots = {os.path.realpath(Path.home()), os.path.realpath(os.getcwd())}
    return sorted(root for root in roots if root != os.sep)


def _minimal_environment(scratch: Path) -> dict[str, str]:
    # Built from nothing: whatever the caller holds (API keys, tokens) never reaches the child.
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "OMP_NUM_THREADS": "1",  # one thread per candidate: many run side by side
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _limit_setter(limits: SandboxLimits) -> Callable[[], None]:
    def apply_limits() -> None:
        memory = limits.memory_mb * MEBIBYTE
        # The hard CPU limit is one second above the soft one: SIGXCPU first, SIGKILL if ignored.
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_time_s, limits.cpu_time_s + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply_limits


def _read_capped(path: Path, max_bytes: int) -> tuple[str, bool]:
    """The head and the tail of a captured stream (tracebacks are at the end), and whether cut."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        if size <= max_bytes:
            return stream.read().decode("utf-8", errors="replace"), False
        head = stream.read(max_bytes // 2)
        stream.seek(size - (max_bytes - max_bytes // 2))
        tail = stream.read()
    omitted = size - len(head) - len(tail)
    text = f"{head.decode('utf-8', 'replace')}\n... [{omitted} bytes truncated] ...\n{tail.decode('utf-8', 'replace')}"
    return text, True


def _take_report(path: Path, token: str) -> bool:
    """Whether the child wrote its tests-finished token; the token is cut out of the captured output."""
    marker = token.encode()
    start = max(0, path.stat().st_size - REPORT_WINDOW_BYTES)
    with path.open("r+b") as stream:
        stream.seek(start)
        tail = stream.read()
        position = tail.rfind(marker)
        if position < 0:
            return False
        stream.seek(start + position)
        stream.write(tail[position + len(marker) :])
        stream.truncate()
    return True


def _kill_group(process_id: int) -> None:
    # Also after a normal exit: a straggler left in the group must not outlive the run.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process_id, signal.SIGKILL)


def _classify(returncode: int, timed_out: bool, stderr: str) -> SandboxStatus:
    if timed_out or returncode == -signal.SIGXCPU:
        return SandboxStatus.TIMEOUT
    if returncode == 0:
        return SandboxStatus.OK
    if returncode < 0:
        return SandboxStatus.KILLED
    last_line = stderr.rstrip().rsplit("\n", 1)[-1]
    if last_line.startswith("MemoryError"):
        return SandboxStatus.MEMORY_LIMIT
    return SandboxStatus.FAILED


def _tests_not_run_reason(outcome: _Outcome) -> str | None:
    """Why a test run did not run every test, or None when it did (or failed in another way)."""
    if outcome.returncode == 0 and not outcome.tests_finished:
        return "the program exited with status 0 without reporting that the tests finished (e.g. os._exit)"
    if outcome.returncode != EXIT_TESTS_NOT_RUN:
        return None
    reasons = [line for line in outcome.stderr.splitlines() if line.startswith(TESTS_NOT_RUN_MARKER)]
    if reasons:
        return reasons[-1].removeprefix(TESTS_NOT_RUN_MARKER)
    return f"the program exited with status {EXIT_TESTS_NOT_RUN}, the sandbox's status for an early exit"


def _timeout_detail(outcome: _Outcome, limits: SandboxLimits, attempt: int) -> str:
    if not outcome.wall_timed_out:
        return f"stopped by the CPU time limit ({limits.cpu_time_s} s)"
    alone = ", also when run alone" if attempt > 1 else ""
    return f"stopped by the wall-clock limit ({limits.wall_limit_s:g} s){alone}"


def _verdict(outcome: _Outcome, testing: bool, limits: SandboxLimits, attempt: int) -> tuple[SandboxStatus, str]:
    status = _classify(outcome.returncode, outcome.wall_timed_out, outcome.stderr)
    if status == SandboxStatus.TIMEOUT:
        return status, _timeout_detail(outcome, limits, attempt)
    reason = _tests_not_run_reason(outcome) if testing else None
    if reason is not None:
        return SandboxStatus.TESTS_NOT_RUN, f"the tests did not run: {reason}"
    return status, ""


def _child_command(candidate: Path, tests: Path | None) -> list[str]:
    return [sys.executable, "-I", "-B", str(CHILD_PROGRAM), str(candidate), *([str(tests)] if tests else [])]


async def _send_and_wait(process: asyncio.subprocess.Process, request: bytes) -> None:
    assert process.stdin is not None
    process.stdin.write(request)
    with contextlib.suppress(ConnectionError):  # a child that died at start reads nothing
        await process.stdin.drain()
    process.stdin.close()
    await process.wait()


async def _execute(command: list[str], request: bytes, run_directory: Path, limits: SandboxLimits) -> tuple[int, bool]:
    """Start the child, wait up to the wall limit, kill its group; return (returncode, timed out)."""
    scratch = run_directory / "scratch"
    with (run_directory / "stdout").open("wb") as stdout, (run_directory / "stderr").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *await _network_namespace_prefix(),
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
            cwd=scratch,
            env=_minimal_environment(scratch),
            start_new_session=True,
            preexec_fn=_limit_setter(limits),
        )
    timed_out = False
    try:
        await asyncio.wait_for(_send_and_wait(process, request), timeout=limits.wall_limit_s)
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(process.pid)
        if process.returncode is None:
            await process.wait()  # also on cancellation: never leave a zombie behind
    assert process.returncode is not None
    return process.returncode, timed_out


async def _run_once(candidate: str, tests: str | None, limits: SandboxLimits) -> _Outcome:
    """One start of the child in a fresh run directory, removed afterwards. OSError: it did not start."""
    run_directory = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    try:
        (run_directory / "scratch").mkdir()
        candidate_path, tests_path = run_directory / "candidate.py", run_directory / "tests.py"
        candidate_path.write_text(candidate, encoding="utf-8")
        if tests is not None:
            tests_path.write_text(tests, encoding="utf-8")
        # Made here, per run, and sent on stdin: the candidate cannot know it, so cannot print it.
        token = f"{REPORT_PREFIX}{secrets.token_hex(16)}" if tests is not None else None
        request = json.dumps({"token": token, "private_roots": _private_roots()}).encode()
        command = _child_command(candidate_path, tests_path if tests is not None else None)
        returncode, timed_out = await _execute(command, request, run_directory, limits)
        finished = token is not None and _take_report(run_directory / "stdout", token)
        stdout, stdout_cut = _read_capped(run_directory / "stdout", limits.max_output_bytes)
        stderr, stderr_cut = _read_capped(run_directory / "stderr", limits.max_output_bytes)
        return _Outcome(
            returncode=returncode,
            wall_timed_out=timed_out,
            stdout=stdout,
            stderr=stderr,
            output_truncated=stdout_cut or stderr_cut,
            tests_finished=finished,
        )
    finally:
        shutil.rmtree(run_directory, ignore_errors=True)


async def _attempt(
    candidate: str, tests: str | None, limits: SandboxLimits, attempt: int
) -> tuple[SandboxResult, bool]:
    """The result of one attempt, and whether it hit the wall clock."""
    started = time.perf_counter()
    try:
        outcome = await _run_once(candidate, tests, limits)
    except OSError as error:
        failure = SandboxResult(
            status=SandboxStatus.ERROR,
            returncode=None,
            stdout="",
            stderr=f"sandbox could not start the program: {error!r}",
            duration_s=time.perf_counter() - started,
            attempts=attempt,
        )
        return failure, False
    status, detail = _verdict(outcome, tests is not None, limits, attempt)
    result = SandboxResult(
        status=status,
        returncode=outcome.returncode,
        stdout=outcome.stdout,
        stderr=outcome.stderr,
        duration_s=time.perf_counter() - started,
        output_truncated=outcome.output_truncated,
        detail=detail,
        attempts=attempt,
    )
    return result, outcome.wall_timed_out


async def _run_gated(candidate: str, tests: str | None, limits: SandboxLimits) -> SandboxResult:
    gate = _run_gate()
    async with gate.shared():
        result, hit_wall_clock = await _attempt(candidate, tests, limits, attempt=1)
    if not hit_wall_clock:
        return result
    # The wall clock may only have measured a busy machine: the verdict is the run with no other
    # sandbox run beside it. (The CPU limit needs no second run: it does not depend on load.)
    async with gate.alone():
        result, _ = await _attempt(candidate, tests, limits, attempt=2)
    return result


async def run_python(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run `code` as a plain Python program in a fresh contained process and report what happened."""
    return await _run_gated(code, None, limits or SandboxLimits())


async def run_tests(candidate: str, tests: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run `candidate` as a script, then `tests` in its namespace; OK only if every test ran and passed.

    An exit before the tests finish (SystemExit in either, `os._exit`) is TESTS_NOT_RUN, with the
    reason in `detail`; a failing test is FAILED, as any other uncaught exception.
    """
    return await _run_gated(candidate, tests, limits or SandboxLimits())


def run_python_sync(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Blocking wrapper for callers outside an event loop (scripts, notebooks)."""
    return asyncio.run(run_python(code, limits))
