"""Sandbox: each case asserts the status and that containment held."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentverse import sandbox
from agentverse.sandbox import SandboxLimits, SandboxResult, SandboxStatus, run_python, run_python_sync

FAST = SandboxLimits(wall_timeout_s=10, cpu_time_s=10, memory_mb=512)


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
    assert result.duration_s < limits.wall_timeout_s + 3
    assert sandbox_processes(run_directory_of(result)) == []


@pytest.mark.asyncio
async def test_the_cpu_limit_ends_a_busy_loop() -> None:
    result = await run_python("while True: pass", SandboxLimits(wall_timeout_s=60, cpu_time_s=1))
    assert result.status == SandboxStatus.TIMEOUT
    assert result.returncode == -signal.SIGXCPU  # the CPU limit ended it, not the wall clock
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
    monkeypatch.setattr(sandbox, "RUNS_PER_CORE", 1)
    monkeypatch.setattr(sandbox.os, "cpu_count", lambda: 1)
    code = "import time\nstart = time.time()\ntime.sleep(0.3)\nprint(start, time.time())\n"
    results = await asyncio.gather(*(run_python(code, FAST) for _ in range(3)))
    intervals = sorted(tuple(map(float, result.stdout.split())) for result in results)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(intervals))
    assert all(result.duration_s < 5 for result in results)  # waiting at the gate is not run time
