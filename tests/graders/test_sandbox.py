"""Sandbox: each case asserts the status and that containment held."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentverse import sandbox
from agentverse.sandbox import (
    RunGate,
    SandboxLimits,
    SandboxResult,
    SandboxStatus,
    run_python,
    run_python_sync,
    run_tests,
)

FAST = SandboxLimits(cpu_time_s=10, memory_mb=512)


def sandbox_processes(run_directory: str) -> list[int]:
    """Live processes started for a run (their command line names the run's program file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if run_directory.encode() in command_line:
            found.append(int(entry.name))
    return found


def run_directory_of(result: SandboxResult) -> str:
    """The candidates below print their cwd first; the run directory is its parent."""
    return str(Path(result.stdout.splitlines()[0]).parent)


@pytest.mark.asyncio
async def test_a_passing_program_is_ok() -> None:
    result = await run_python("print('hello')", FAST)
    assert result.status == SandboxStatus.OK
    assert result.returncode == 0
    assert result.stdout == "hello\n"


@pytest.mark.asyncio
async def test_a_failing_assert_is_failed_with_the_traceback() -> None:
    result = await run_python("assert 1 + 1 == 3, 'arithmetic'", FAST)
    assert result.status == SandboxStatus.FAILED
    assert result.returncode == 1
    assert "AssertionError: arithmetic" in result.stderr


@pytest.mark.asyncio
async def test_an_exception_is_failed() -> None:
    result = await run_python("raise ValueError('bad input')", FAST)
    assert result.status == SandboxStatus.FAILED
    assert "ValueError: bad input" in result.stderr


@pytest.mark.asyncio
async def test_an_infinite_loop_times_out_within_the_wall_limit() -> None:
    limits = SandboxLimits(wall_timeout_s=1.5, cpu_time_s=30)
    result = await run_python("import os\nprint(os.getcwd(), flush=True)\nwhile True: pass", limits)
    assert result.status == SandboxStatus.TIMEOUT
    assert result.attempts == 2  # the wall clock was hit, so it was run again alone
    assert result.duration_s < limits.wall_limit_s + 3
    assert sandbox_processes(run_directory_of(result)) == []


@pytest.mark.asyncio
async def test_the_cpu_limit_ends_a_busy_loop() -> None:
    result = await run_python("while True: pass", SandboxLimits(wall_timeout_s=60, cpu_time_s=1))
    assert result.status == SandboxStatus.TIMEOUT
    assert result.returncode == -signal.SIGXCPU  # the CPU limit ended it, not the wall clock
    assert result.attempts == 1  # the CPU limit does not depend on load: no second run
    assert "CPU time limit" in result.detail
    assert result.duration_s < 30  # generous: a loaded machine gives the loop only part of a core


@pytest.mark.asyncio
async def test_a_sleeping_program_times_out() -> None:
    result = await run_python("import time; time.sleep(60)", SandboxLimits(wall_timeout_s=1))
    assert result.status == SandboxStatus.TIMEOUT
    assert result.duration_s < 3


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "code",
    ["x = bytearray(4 * 1024**3)", "chunks = []\nwhile True: chunks.append(bytearray(50 * 1024**2))"],
)
async def test_allocating_gigabytes_hits_the_memory_limit_quickly(code: str) -> None:
    result = await run_python(code, SandboxLimits(wall_timeout_s=20, memory_mb=512))
    assert result.status == SandboxStatus.MEMORY_LIMIT, result.stderr
    assert result.duration_s < 10


FORK_BOMBS = [
    "while True: os.fork()",
    "while True:\n    try:\n        os.fork()\n    except Exception:\n        pass",
    "import subprocess, sys\nwhile True: subprocess.Popen([sys.executable, '-c', 'pass'])",
    "os.system('sleep 60 &')",
    "import multiprocessing\nmultiprocessing.Process(target=print).start()",
    "import ctypes\nwhile True: ctypes.CDLL(None).fork()",
    "import _posixsubprocess\n_posixsubprocess.fork_exec()",
    "import sys\ndel sys.modules['_posixsubprocess']\nimport _posixsubprocess",
    "os.posix_spawn('/bin/sleep', ['sleep', '60'], {})",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("bomb", FORK_BOMBS)
async def test_fork_bombs_are_contained_and_leave_no_process(bomb: str) -> None:
    code = f"import os\nprint(os.getcwd(), flush=True)\n{bomb}\n"
    result = await run_python(code, SandboxLimits(wall_timeout_s=2, cpu_time_s=5))
    assert result.status in (SandboxStatus.FAILED, SandboxStatus.TIMEOUT)
    assert result.status == SandboxStatus.TIMEOUT or "PermissionError: sandbox refused" in result.stderr
    assert result.duration_s < 8
    assert sandbox_processes(run_directory_of(result)) == []


OUTSIDE_OPERATIONS = [
    "os.remove({path!r})",
    "os.unlink({path!r})",
    "shutil.rmtree({directory!r})",
    "os.rename({path!r}, 'stolen.txt')",
    "shutil.move({path!r}, 'stolen.txt')",
    "open({path!r}, 'w').write('overwritten')",
    "open({path!r}, 'a').write('appended')",
    "os.truncate({path!r}, 0)",
    "os.chmod({path!r}, 0o777)",
    "os.chdir({directory!r}); open('protected.txt', 'w')",
    "fd = os.open({directory!r}, os.O_RDONLY); os.unlink('protected.txt', dir_fd=fd)",
    "os.symlink({path!r}, 'link'); open('link', 'w').write('through a link')",
    "import sqlite3; sqlite3.connect({database!r})",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("operation", OUTSIDE_OPERATIONS)
async def test_writing_or_deleting_outside_the_scratch_dir_is_refused(operation: str, tmp_path: Path) -> None:
    protected = tmp_path / "protected.txt"
    protected.write_text("keep me")
    statement = operation.format(path=str(protected), directory=str(tmp_path), database=str(tmp_path / "x.db"))
    result = await run_python(f"import os, shutil\n{statement}\n", FAST)
    assert result.status == SandboxStatus.FAILED
    assert "PermissionError: sandbox refused" in result.stderr
    assert protected.read_text() == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["protected.txt"]


@pytest.mark.asyncio
async def test_writing_inside_the_scratch_dir_is_allowed() -> None:
    code = """
import os, shutil, tempfile
os.makedirs("work/nested")
with open("work/nested/data.txt", "w") as handle:
    handle.write("42")
os.rename("work/nested/data.txt", "work/data.txt")
print(open("work/data.txt").read())
with tempfile.NamedTemporaryFile("w", delete=False) as temporary:
    temporary.write("x")
shutil.rmtree("work")
print(os.path.exists("work"), os.environ["HOME"] == os.getcwd())
"""
    result = await run_python(code, FAST)
    assert result.status == SandboxStatus.OK, result.stderr
    assert result.stdout == "42\nFalse True\n"


@pytest.mark.asyncio
async def test_the_callers_environment_and_api_keys_are_invisible(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-do-not-leak-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    code = """
import os
print(sorted(os.environ))
print(os.environ.get("OPENAI_API_KEY"))
for pid in (os.getppid(), 1):
    try:
        print(open(f"/proc/{pid}/environ").read())
    except PermissionError as error:
        print("refused", error)
"""
    result = await run_python(code, FAST)
    assert result.status == SandboxStatus.OK, result.stderr
    assert secret not in result.stdout + result.stderr
    assert "OPENAI_API_KEY" not in result.stdout
    assert result.stdout.count("sandbox refused open /proc/") == 2


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    yield server
    server.close()


def assert_no_connection_arrived(server: socket.socket) -> None:
    with pytest.raises(TimeoutError):
        server.accept()


NETWORK_ATTEMPTS = [
    "socket.create_connection(('127.0.0.1', {port}), timeout=2)",
    "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.connect(('127.0.0.1', {port}))",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2)",
    "socket.getaddrinfo('example.com', 80)",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("attempt", NETWORK_ATTEMPTS)
@pytest.mark.parametrize("namespace", [True, False], ids=["namespace", "hook-only"])
async def test_network_connections_never_arrive(
    attempt: str, namespace: bool, listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not namespace:
        # The in-child guard must hold on machines where `unshare --net` is unavailable.
        monkeypatch.setattr(sandbox, "_network_prefix_cache", [])
    port = listener.getsockname()[1]
    result = await run_python(f"import socket\n{attempt.format(port=port)}\n", FAST)
    assert result.status == SandboxStatus.FAILED
    assert_no_connection_arrived(listener)


@pytest.mark.asyncio
async def test_signals_to_other_processes_are_refused() -> None:
    result = await run_python("import os, signal\nos.kill(os.getppid(), signal.SIGTERM)\n", FAST)
    assert result.status == SandboxStatus.FAILED
    assert "PermissionError: sandbox refused os.kill" in result.stderr


@pytest.mark.asyncio
async def test_ordinary_libraries_still_work() -> None:
    code = "import asyncio, json, numpy\nasyncio.run(asyncio.sleep(0))\nprint(int(numpy.arange(4).sum()))\n"
    result = await run_python(code, FAST)
    assert result.status == SandboxStatus.OK, result.stderr
    assert result.stdout == "6\n"


@pytest.mark.asyncio
async def test_concurrent_runs_do_not_clash() -> None:
    code = """
import os, time
with open("mine.txt", "w") as handle:
    handle.write("{index}")
time.sleep(0.3)
print(open("mine.txt").read(), os.getcwd())
"""
    results = await asyncio.gather(*(run_python(code.format(index=index), FAST) for index in range(6)))
    assert [result.status for result in results] == [SandboxStatus.OK] * 6
    owners = [result.stdout.split()[0] for result in results]
    directories = {result.stdout.split()[1] for result in results}
    assert owners == [str(index) for index in range(6)]
    assert len(directories) == 6
    assert not any(Path(directory).exists() for directory in directories)  # scratch removed afterwards


@pytest.mark.asyncio
async def test_output_is_truncated_keeping_head_and_tail() -> None:
    code = "print('start'); print('x' * 100_000); print('the end')"
    result = await run_python(code, SandboxLimits(max_output_bytes=1000))
    assert result.status == SandboxStatus.OK
    assert result.output_truncated
    assert len(result.stdout) < 1200
    assert result.stdout.startswith("start") and result.stdout.rstrip().endswith("the end")


@pytest.mark.asyncio
async def test_a_file_larger_than_the_limit_cannot_be_written() -> None:
    code = "open('big', 'wb').write(b'x' * 2_000_000)"
    result = await run_python(code, SandboxLimits(max_file_bytes=1_000_000))
    assert result.status == SandboxStatus.FAILED
    assert "File too large" in result.stderr


@pytest.mark.asyncio
async def test_a_start_failure_is_a_sandbox_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.sys, "executable", "/nonexistent/python")
    monkeypatch.setattr(sandbox, "_network_prefix_cache", [])
    result = await run_python("print(1)", FAST)
    assert result.status == SandboxStatus.ERROR
    assert result.returncode is None


def test_the_blocking_wrapper_runs_outside_an_event_loop() -> None:
    started = time.perf_counter()
    result = run_python_sync("print(6 * 7)")
    assert result.status == SandboxStatus.OK
    assert result.stdout == "42\n"
    assert time.perf_counter() - started < 10
    assert os.environ.get("HOME") != result.stdout


@pytest.mark.asyncio
async def test_the_callers_home_and_working_directory_are_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / ".env"
    secret.write_text("OPENAI_API_KEY=sk-from-a-dotfile")
    monkeypatch.chdir(tmp_path)  # the caller's working directory is private by default
    assert str(tmp_path.resolve()) in sandbox._private_roots()
    attempts = [f"open({str(secret)!r}).read()", f"os.listdir({str(tmp_path)!r})", f"os.listdir({str(Path.home())!r})"]
    for attempt in attempts:
        result = await run_python(f"import os\nprint({attempt})\n", FAST)
        assert result.status == SandboxStatus.FAILED, attempt
        assert "sandbox refused" in result.stderr
        assert "sk-from-a-dotfile" not in result.stdout
    # The interpreter's own libraries stay readable even when they live under a private root.
    assert (await run_python("import json, numpy\nprint('ok')", FAST)).stdout == "ok\n"


@pytest.mark.asyncio
async def test_runs_beyond_the_machine_gate_wait_their_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "available_cores", lambda: 1)
    code = "import time\nstart = time.time()\ntime.sleep(0.3)\nprint(start, time.time())\n"
    results = await asyncio.gather(*(run_python(code, FAST) for _ in range(3)))
    intervals = sorted(tuple(map(float, result.stdout.split())) for result in results)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(intervals))
    assert all(result.duration_s < 5 for result in results)  # waiting at the gate is not run time


def test_the_wall_clock_follows_from_the_cpu_limit_with_headroom() -> None:
    limits = SandboxLimits(cpu_time_s=10)
    assert limits.wall_timeout_s is None
    assert limits.wall_limit_s >= 3 * limits.cpu_time_s  # a third of a core still finishes in time
    assert SandboxLimits(cpu_time_s=2, wall_timeout_s=1.5).wall_limit_s == 1.5


def test_the_default_parallelism_is_one_run_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "available_cores", lambda: 6)
    assert sandbox.default_parallelism() == 6


async def test_a_wall_clock_timeout_is_run_again_alone() -> None:
    limits = SandboxLimits(cpu_time_s=5, wall_timeout_s=1.0)
    sleeper = "import time\nprint(time.time(), flush=True)\ntime.sleep(30)\n"
    neighbour = "import time\nstart = time.time()\ntime.sleep(0.4)\nprint(start, time.time())\n"
    timed_out, *others = await asyncio.gather(
        run_python(sleeper, limits), *(run_python(neighbour, FAST) for _ in range(5))
    )
    assert timed_out.status == SandboxStatus.TIMEOUT
    assert timed_out.attempts == 2
    assert "also when run alone" in timed_out.detail
    retry_start = float(timed_out.stdout.split()[0])  # the output of the second attempt
    retry_end = retry_start + limits.wall_limit_s
    intervals = [tuple(map(float, other.stdout.split())) for other in others]
    assert all(other.status == SandboxStatus.OK and other.attempts == 1 for other in others)
    assert all(end <= retry_start or start >= retry_end for start, end in intervals), (retry_start, intervals)


async def test_the_gate_runs_alone_after_the_running_ones_and_before_later_ones() -> None:
    gate = RunGate(2)
    order: list[str] = []

    async def shared(name: str, hold_s: float) -> None:
        async with gate.shared():
            order.append(f"{name} start")
            await asyncio.sleep(hold_s)
            order.append(f"{name} end")

    async def alone() -> None:
        async with gate.alone():
            assert gate.in_use == gate.slots
            order.append("alone start")
            await asyncio.sleep(0.05)
            order.append("alone end")

    first = asyncio.create_task(shared("first", 0.1))
    await asyncio.sleep(0.01)
    solo = asyncio.create_task(alone())
    await asyncio.sleep(0.01)
    later = asyncio.create_task(shared("later", 0.01))
    await asyncio.gather(first, solo, later)
    assert order == ["first start", "first end", "alone start", "alone end", "later start", "later end"]
    assert gate.in_use == 0


async def test_a_cancelled_wait_to_run_alone_frees_the_gate() -> None:
    gate = RunGate(1)
    async with gate.shared():
        waiting = asyncio.create_task(gate.alone().__aenter__())
        await asyncio.sleep(0.01)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
    async with asyncio.timeout(1):
        async with gate.shared():
            assert gate.in_use == 1


TESTS_ADD = "assert add(1, 2) == 3\n"
ADD = "def add(a, b):\n    return a + b\n"


async def test_run_tests_passes_when_every_test_ran_and_keeps_the_output_clean() -> None:
    result = await run_tests(f"{ADD}print('defined')\n", TESTS_ADD + "print('tested')\n", FAST)
    assert result.status == SandboxStatus.OK, result.stderr
    assert result.stdout == "defined\ntested\n"  # the sandbox's report is cut out
    assert result.detail == ""


async def test_run_tests_runs_the_candidate_as_a_script_and_the_tests_in_its_namespace() -> None:
    candidate = f"{ADD}import sys\nscript = (__name__, sys.argv[0].endswith('candidate.py'))\n"
    result = await run_tests(candidate, "assert script == ('__main__', True), script\n", FAST)
    assert result.status == SandboxStatus.OK, result.stderr


@pytest.mark.parametrize(
    "tests",
    ["assert add(1, 2) == 4, 'wrong sum'\n", "raise ValueError('broken test')\n", "import sys\nsys.exit(1)\n"],
)
async def test_run_tests_fails_when_a_test_fails_or_exits(tests: str) -> None:
    result = await run_tests(ADD, tests, FAST)
    assert result.status in (SandboxStatus.FAILED, SandboxStatus.TESTS_NOT_RUN)
    assert result.status == SandboxStatus.FAILED or "while the tests ran" in result.detail


REDIRECTIONS = [
    "import io, sys\nsys.stdout = io.StringIO()\n",
    "import os\nnull = os.open(os.devnull, os.O_WRONLY)\nos.dup2(null, 1)\n",
    "import os\nos.close(1)\n",
]


@pytest.mark.parametrize("redirection", REDIRECTIONS)
async def test_redirecting_stdout_cannot_hide_the_report(redirection: str) -> None:
    result = await run_tests(ADD + redirection, TESTS_ADD, FAST)
    assert result.status == SandboxStatus.OK, result.stderr


@pytest.mark.parametrize(
    "early_exit", ["import sys\nsys.exit(0)\n", "exit()\n", "import os\nos._exit(0)\n", "raise SystemExit\n"]
)
async def test_run_tests_reports_an_exit_before_the_tests_as_tests_not_run(early_exit: str) -> None:
    result = await run_tests(ADD + early_exit, TESTS_ADD, FAST)
    assert result.status == SandboxStatus.TESTS_NOT_RUN
    assert result.detail.startswith("the tests did not run: ")


async def test_the_report_token_is_not_visible_to_the_candidate() -> None:
    candidate = """
import os, sys
print(open("/proc/self/cmdline", "rb").read())
print(open("/proc/self/environ", "rb").read())
print(sys.argv, sys.stdin.read(), dict(os.environ))
"""
    result = await run_tests(ADD + candidate, TESTS_ADD, FAST)
    assert result.status == SandboxStatus.OK, result.stderr
    assert sandbox.REPORT_PREFIX not in result.stdout + result.stderr
    assert "private_roots" not in result.stdout


async def test_a_plain_program_keeps_its_exit_status() -> None:
    result = await run_python("import sys\nprint('bye')\nsys.exit(3)\n", FAST)
    assert result.status == SandboxStatus.FAILED
    assert result.returncode == 3
    assert result.stdout == "bye\n"


SABOTAGE = [
    "import builtins\nbuiltins.exec = lambda *args, **kwargs: None\n",
    "import os\nos.write = lambda fd, data: len(data)\nos._exit = lambda status: None\n",
]


@pytest.mark.parametrize("sabotage", SABOTAGE, ids=["exec", "os.write-and-_exit"])
async def test_replacing_the_childs_functions_cannot_skip_the_tests(sabotage: str) -> None:
    result = await run_tests("def add(a, b):\n    return 0\n" + sabotage, TESTS_ADD, FAST)
    assert result.status == SandboxStatus.FAILED
    assert "AssertionError" in result.stderr


async def test_a_long_output_keeps_the_report_and_is_truncated() -> None:
    result = await run_tests(ADD + "print('start')\nprint('x' * 200_000)\n", TESTS_ADD + "print('end')\n", FAST)
    assert result.status == SandboxStatus.OK, result.stderr
    assert result.output_truncated
    assert result.stdout.startswith("start") and result.stdout.rstrip().endswith("end")


async def test_a_thread_left_running_does_not_hold_up_a_passing_run() -> None:
    candidate = ADD + "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\n"
    result = await run_tests(candidate, TESTS_ADD, SandboxLimits(cpu_time_s=5, wall_timeout_s=10))
    assert result.status == SandboxStatus.OK, result.stderr
    assert result.duration_s < 5


@pytest.mark.parametrize("granted_first", [False, True], ids=["while-waiting", "just-granted"])
async def test_cancelled_runs_give_their_slots_back(granted_first: bool) -> None:
    gate = RunGate(1)

    async def hold() -> None:
        async with gate.shared():
            await asyncio.sleep(10)

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    holder.cancel()
    if granted_first:
        await asyncio.sleep(0)  # the holder's release hands the slot to the waiter, which has not resumed yet
    waiter.cancel()
    await asyncio.gather(holder, waiter, return_exceptions=True)
    assert gate.in_use == 0
    async with asyncio.timeout(1), gate.alone():
        assert gate.in_use == 1
