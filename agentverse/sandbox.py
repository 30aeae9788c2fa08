"""Run untrusted Python (model-written code) in a contained child process.

Layers, from hardest to softest:
- a fresh process per run (`python -I -B`), in its own session so the whole process group is
  killed afterwards; a unique private directory per run (scratch cwd + captured output);
- rlimits set before exec: CPU seconds, address space, file size, process count, no core dumps;
- an environment built from scratch, so no variable of the caller (API keys) reaches the child;
- a network namespace (`unshare --net`) when the machine allows it: the child sees no interface;
- a guard installed inside the child before the candidate runs (`sys.addaudithook`): it refuses
  sockets, process creation, signals to other processes, foreign-function calls, writes or
  deletions outside the scratch dir and reads of other processes' /proc entries. The hook is what
  contains fork bombs when we run as root (RLIMIT_NPROC is not enforced for root) and what keeps
  the network closed where namespaces are unavailable.

The audit hook is best-effort against deliberate escapes (it is in-process); it is meant for
careless or confused model code, which is what a grader meets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

MEBIBYTE = 1024 * 1024
SCRATCH_PREFIX = "mas-tts-sandbox-"


class SandboxLimits(BaseModel):
    """Resource limits of one run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wall_timeout_s: float = Field(default=10.0, gt=0, description="Wall-clock limit; the group is killed after it.")
    cpu_time_s: int = Field(default=10, gt=0, description="CPU seconds (RLIMIT_CPU) of the child.")
    memory_mb: int = Field(default=1024, gt=0, description="Address-space limit (RLIMIT_AS) in MiB.")
    max_processes: int = Field(
        default=512, gt=0, description="RLIMIT_NPROC (per user, threads included; not enforced for root)."
    )
    max_output_bytes: int = Field(default=64 * 1024, gt=0, description="Bytes of stdout/stderr kept, each.")
    max_file_bytes: int = Field(default=16 * MEBIBYTE, gt=0, description="Largest file the child may write.")


class SandboxStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"  # non-zero exit
    TIMEOUT = "timeout"  # wall clock or CPU limit
    MEMORY_LIMIT = "memory_limit"
    KILLED = "killed"  # ended by a signal we did not send for a limit
    ERROR = "error"  # the sandbox itself failed; says nothing about the candidate


class SandboxResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: SandboxStatus
    returncode: int | None = Field(description="Exit code; negative for a signal; None if it never ran.")
    stdout: str
    stderr: str
    duration_s: float
    output_truncated: bool = False


# Runs inside the child before the candidate. Kept free of names the candidate could reach: it
# runs in a function, and the candidate gets a fresh __main__ module.
PRELUDE = r"""
def _sandbox_main():
    import builtins, os, sys, types
    import _posixsubprocess

    program_path = sys.argv[1]
    with open(program_path, encoding="utf-8") as program_file:
        source = program_file.read()
    code = compile(source, program_path, "exec")
    scratch = os.path.realpath(os.getcwd())
    scratch_prefix = scratch + os.sep
    own_proc = "/proc/%d" % os.getpid()
    # The caller's home and working directory (dotfiles, .env, tokens) are unreadable, except
    # where the interpreter and its libraries live (a venv inside the checkout, pyenv in ~).
    private_roots = tuple(root.rstrip(os.sep) + os.sep for root in sys.argv[2:])
    library_roots = tuple(
        sorted({os.path.realpath(root).rstrip(os.sep) + os.sep for root in (
            sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path
        ) if root})
    )
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    directory_flags = os.O_DIRECTORY | getattr(os, "O_PATH", 0)
    refused_events = frozenset({
        "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system",
        "subprocess.Popen", "os.startfile", "pty.spawn", "resource.setrlimit", "resource.prlimit",
        "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function", "ctypes.cdata",
        "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
        "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo", "socket.sethostname",
        "sys.remote_exec", "os.chroot",
    })
    # event -> positions of (path, dir_fd) pairs the event writes to
    write_events = {
        "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.rename": ((0, 2), (1, 3)),
        "os.link": ((1, 3),), "os.symlink": ((1, 2),), "os.mkdir": ((0, 2),),
        "os.chmod": ((0, 2),), "os.chown": ((0, 3),), "os.utime": ((0, 3),),
        "os.truncate": ((0, None),), "os.chflags": ((0, None),), "os.lchflags": ((0, None),),
        "os.setxattr": ((0, None),), "os.removexattr": ((0, None),), "shutil.rmtree": ((0, 1),),
        "shutil.chown": ((0, None),), "shutil.copyfile": ((1, None),),
    }
    realpath, join, fspath = os.path.realpath, os.path.join, os.fspath

    def resolve(path, dir_fd):
        path = fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if dir_fd is not None and dir_fd >= 0 and not os.path.isabs(path):  # negative: the cwd
            path = join(os.readlink("/proc/self/fd/%d" % dir_fd), path)
        return realpath(path)

    def inside_scratch(path, dir_fd=None):
        if isinstance(path, int):
            return True  # an already-open descriptor: it was checked when it was opened
        resolved = resolve(path, dir_fd)
        return resolved == scratch or resolved.startswith(scratch_prefix)

    def refuse(event, detail=""):
        raise PermissionError(("sandbox refused %s %s" % (event, detail)).strip())

    def private(resolved):
        candidate = resolved + os.sep
        return (
            candidate.startswith(private_roots)
            and not candidate.startswith(library_roots)
            and not inside_scratch(resolved)
        )

    def check_read(path):
        if not isinstance(path, int) and private(resolve(path, None)):
            refuse("reading", str(path))

    def check_open(path, mode, flags):
        if isinstance(path, int) or path is None:
            return
        resolved = resolve(path, None)
        if private(resolved):
            refuse("open", resolved)
        if resolved.startswith("/proc/"):
            owner = resolved.split("/")[2]
            if owner.isdigit() and not (resolved + "/").startswith(own_proc + "/"):
                refuse("open", resolved)  # other processes' environ, memory, fds
        writing = bool((flags or 0) & write_flags) or any(letter in (mode or "") for letter in "wax+")
        if writing and resolved != "/dev/null" and not inside_scratch(resolved):
            refuse("open for writing", resolved)
        if (flags or 0) & directory_flags and not inside_scratch(resolved):
            # A directory descriptor outside would let a later *at() call with a relative name write there.
            refuse("open directory", resolved)

    def hook(event, args):
        if event in refused_events:
            refuse(event)
        elif event == "open":
            check_open(*args[:3])
        elif event in write_events:
            for path_index, fd_index in write_events[event]:
                dir_fd = args[fd_index] if fd_index is not None else None
                if not inside_scratch(args[path_index], dir_fd):
                    refuse(event, str(args[path_index]))
        elif event in ("os.listdir", "os.scandir", "glob.glob", "os.chdir"):
            check_read(args[0] if args and args[0] is not None else ".")
        elif event == "socket.__new__" and args[1] != 1:  # AF_UNIX socketpairs back asyncio's loop
            refuse(event, "network")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill") and args[0] != os.getpid():
            refuse(event)
        elif event == "import" and args[0] == "_posixsubprocess":
            refuse(event, "_posixsubprocess")  # a fresh copy would bring fork_exec back
        elif event in ("sqlite3.connect", "dbm.open") and args[0] not in (":memory:", b":memory:"):
            if not inside_scratch(args[0]):
                refuse(event, str(args[0]))

    def no_fork_exec(*args, **kwargs):
        refuse("fork_exec")

    # fork_exec raises no audit event of its own; replace it before anything imports subprocess.
    _posixsubprocess.fork_exec = no_fork_exec
    sys.dont_write_bytecode = True
    sys.argv = [program_path]
    main_module = types.ModuleType("__main__")
    main_module.__dict__.update({"__file__": program_path, "__builtins__": builtins})
    sys.modules["__main__"] = main_module
    sys.addaudithook(hook)
    return code, main_module.__dict__

_sandbox_code, _sandbox_namespace = _sandbox_main()
del _sandbox_main
exec(_sandbox_code, _sandbox_namespace)
"""

_network_prefix_cache: list[str] | None = None
# One gate per event loop: candidates from every concurrent problem share the machine's cores
# and memory (each may take memory_mb), so runs beyond it wait; waiting does not count as time.
_run_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
RUNS_PER_CORE = 2


def _run_gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _run_gates:
        _run_gates[loop] = asyncio.Semaphore(RUNS_PER_CORE * (os.cpu_count() or 1))
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
        options = [[unshare, "--net", "--"], [unshare, "--user", "--map-root-user", "--net", "--"]]
        found: list[str] = []
        for option in options if unshare else []:
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


async def _execute(run_directory: Path, scratch: Path, limits: SandboxLimits) -> tuple[int, bool]:
    """Start the child, wait up to the wall limit, kill its group; return (returncode, timed out)."""
    program = run_directory / "program.py"
    command = [
        *await _network_namespace_prefix(),
        sys.executable,
        *("-I", "-B", "-c", PRELUDE, str(program)),
        *_private_roots(),
    ]
    with (run_directory / "stdout").open("wb") as stdout, (run_directory / "stderr").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=scratch,
            env=_minimal_environment(scratch),
            start_new_session=True,
            preexec_fn=_limit_setter(limits),
        )
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), timeout=limits.wall_timeout_s)
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(process.pid)
        if process.returncode is None:
            await process.wait()  # also on cancellation: never leave a zombie behind
    assert process.returncode is not None
    return process.returncode, timed_out


async def run_python(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run `code` as a Python program in a fresh contained process and report what happened."""
    limits = limits or SandboxLimits()
    async with _run_gate():
        return await _run_in_directory(code, limits)


async def _run_in_directory(code: str, limits: SandboxLimits) -> SandboxResult:
    started = time.perf_counter()
    run_directory = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    try:
        scratch = run_directory / "scratch"
        scratch.mkdir()
        (run_directory / "program.py").write_text(code, encoding="utf-8")
        try:
            returncode, timed_out = await _execute(run_directory, scratch, limits)
        except OSError as error:
            return SandboxResult(
                status=SandboxStatus.ERROR,
                returncode=None,
                stdout="",
                stderr=f"sandbox could not start the program: {error!r}",
                duration_s=time.perf_counter() - started,
            )
        stdout, stdout_cut = _read_capped(run_directory / "stdout", limits.max_output_bytes)
        stderr, stderr_cut = _read_capped(run_directory / "stderr", limits.max_output_bytes)
        return SandboxResult(
            status=_classify(returncode, timed_out, stderr),
            returncode=returncode,
            stdout=stdout,
            stderr=stderr,
            duration_s=time.perf_counter() - started,
            output_truncated=stdout_cut or stderr_cut,
        )
    finally:
        shutil.rmtree(run_directory, ignore_errors=True)


def run_python_sync(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Blocking wrapper for callers outside an event loop (scripts, notebooks)."""
    return asyncio.run(run_python(code, limits))
