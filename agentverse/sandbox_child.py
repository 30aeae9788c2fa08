"""The program the sandbox runs in its child process: `python -I -B sandbox_child.py CANDIDATE [TESTS]`.

The parent (agentverse.sandbox) writes one JSON object on stdin, `{"token": str | null,
"private_roots": [str, ...]}`, and closes it; stdin is /dev/null for the candidate afterwards. The
token travels on stdin so that it is not in the candidate's argv, environment or /proc/self/cmdline.

With one file the child runs it as a plain script. With two it runs the candidate as a script
(`__name__ == "__main__"`, as the research code ran candidates) in a fresh module, then the tests in
the same namespace, and only then writes the token on a copy of fd 1 taken before the candidate
ran: redirecting `sys.stdout` or fd 1 can neither hide nor fake it. A SystemExit in either stage
ends the run with EXIT_TESTS_NOT_RUN and a TESTS_NOT_RUN_MARKER line on stderr; an exit that skips
both (`os._exit(0)`) leaves no token, which the parent reads as "the tests did not run".

Before the candidate runs, a guard is installed (`sys.addaudithook`): it refuses sockets, process
creation, signals to other processes, foreign-function calls, writes or deletions outside the
scratch dir (the cwd), reads of the caller's private directories and of other processes' /proc
entries. It is best-effort against deliberate escapes (it is in-process); it is meant for careless
or confused model code. The token is likewise only hidden from code that does not go looking for it
in this interpreter's frames.

This file runs before the sandbox guard exists and must stay small: standard library only, no
`from __future__` import (compile() would pass its flags on to the candidate otherwise).
"""

import _posixsubprocess
import builtins
import contextlib
import json
import os
import sys
import types
from collections.abc import Callable

EXIT_TESTS_NOT_RUN = 86
TESTS_NOT_RUN_MARKER = "sandbox: the tests did not run: "

REFUSED_EVENTS = frozenset(
    {
        "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system",
        "subprocess.Popen", "os.startfile", "pty.spawn", "resource.setrlimit", "resource.prlimit",
        "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function", "ctypes.cdata",
        "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
        "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo", "socket.sethostname",
        "sys.remote_exec", "os.chroot",
    }
)  # fmt: skip
# event -> positions of the (path, dir_fd) pairs the event writes to
WRITE_EVENTS: dict[str, tuple[tuple[int, int | None], ...]] = {
    "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.rename": ((0, 2), (1, 3)),
    "os.link": ((1, 3),), "os.symlink": ((1, 2),), "os.mkdir": ((0, 2),),
    "os.chmod": ((0, 2),), "os.chown": ((0, 3),), "os.utime": ((0, 3),),
    "os.truncate": ((0, None),), "os.chflags": ((0, None),), "os.lchflags": ((0, None),),
    "os.setxattr": ((0, None),), "os.removexattr": ((0, None),), "shutil.rmtree": ((0, 1),),
    "shutil.chown": ((0, None),), "shutil.copyfile": ((1, None),),
}  # fmt: skip
LISTING_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob", "os.chdir"})
SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg", "signal.pthread_kill"})
DATABASE_EVENTS = frozenset({"sqlite3.connect", "dbm.open"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
DIRECTORY_FLAGS = os.O_DIRECTORY | getattr(os, "O_PATH", 0)
AF_UNIX = 1  # AF_UNIX socketpairs back asyncio's event loop; every other family is network


def refuse(event: str, detail: object = "") -> None:
    raise PermissionError(f"sandbox refused {event} {detail}".strip())


def library_roots() -> tuple[str, ...]:
    """Where the interpreter and its libraries live: readable even inside a private root."""
    roots = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path)
    return tuple(sorted({os.path.realpath(root).rstrip(os.sep) + os.sep for root in roots if root}))


class Guard:
    """The audit hook: what the candidate may open, write, list, signal or start."""

    def __init__(self, private_roots: list[str]) -> None:
        self.scratch = os.path.realpath(os.getcwd())
        self.scratch_prefix = self.scratch + os.sep
        self.own_proc = f"/proc/{os.getpid()}/"
        # The caller's home and working directory (dotfiles, .env, tokens) are unreadable, except
        # where the interpreter and its libraries live (a venv inside the checkout, pyenv in ~).
        self.private_roots = tuple(root.rstrip(os.sep) + os.sep for root in private_roots)
        self.library_roots = library_roots()

    def resolve(self, path: object, dir_fd: int | None) -> str:
        # `path` comes from an audit event; what os.fspath would refuse is refused here, with its message.
        if not isinstance(path, str | bytes | os.PathLike):
            raise TypeError(f"expected str, bytes or os.PathLike object, not {type(path).__name__}")
        text = os.fsdecode(path)
        if dir_fd is not None and dir_fd >= 0 and not os.path.isabs(text):  # negative: the cwd
            text = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), text)
        return os.path.realpath(text)

    def inside_scratch(self, path: object, dir_fd: int | None = None) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor: it was checked when it was opened
        resolved = self.resolve(path, dir_fd)
        return resolved == self.scratch or resolved.startswith(self.scratch_prefix)

    def private(self, resolved: str) -> bool:
        candidate = resolved + os.sep
        return (
            candidate.startswith(self.private_roots)
            and not candidate.startswith(self.library_roots)
            and not self.inside_scratch(resolved)
        )

    def check_read(self, path: object) -> None:
        if not isinstance(path, int) and self.private(self.resolve(path, None)):
            refuse("reading", path)

    def check_open(self, path: object, mode: str | None, flags: int | None) -> None:
        if isinstance(path, int) or path is None:
            return
        resolved = self.resolve(path, None)
        if self.private(resolved):
            refuse("open", resolved)
        if resolved.startswith("/proc/"):
            owner = resolved.split("/")[2]
            if owner.isdigit() and not (resolved + "/").startswith(self.own_proc):
                refuse("open", resolved)  # other processes' environ, memory, fds
        writing = bool((flags or 0) & WRITE_FLAGS) or any(letter in (mode or "") for letter in "wax+")
        if writing and resolved != "/dev/null" and not self.inside_scratch(resolved):
            refuse("open for writing", resolved)
        if (flags or 0) & DIRECTORY_FLAGS and not self.inside_scratch(resolved):
            # A directory descriptor outside would let a later *at() call with a relative name write there.
            refuse("open directory", resolved)

    def check_writes(self, event: str, args: tuple[object, ...]) -> None:
        for path_index, fd_index in WRITE_EVENTS[event]:
            dir_fd = args[fd_index] if fd_index is not None else None
            if not self.inside_scratch(args[path_index], dir_fd):  # type: ignore[arg-type]
                refuse(event, args[path_index])

    def hook(self, event: str, args: tuple[object, ...]) -> None:
        if event in REFUSED_EVENTS:
            refuse(event)
        elif event == "open":
            self.check_open(*args[:3])  # type: ignore[arg-type]
        elif event in WRITE_EVENTS:
            self.check_writes(event, args)
        elif event in LISTING_EVENTS:
            self.check_read(args[0] if args and args[0] is not None else ".")
        elif event == "socket.__new__" and args[1] != AF_UNIX:
            refuse(event, "network")
        elif event in SIGNAL_EVENTS and args[0] != os.getpid():
            refuse(event)
        elif event == "import" and args[0] == "_posixsubprocess":
            refuse(event, "_posixsubprocess")  # a fresh copy would bring fork_exec back
        elif event in DATABASE_EVENTS and args[0] not in (":memory:", b":memory:") and not self.inside_scratch(args[0]):
            refuse(event, args[0])


def no_fork_exec(*args: object, **kwargs: object) -> None:
    refuse("fork_exec")


def install_guard(private_roots: list[str]) -> None:
    # fork_exec raises no audit event of its own; replace it before anything imports subprocess.
    _posixsubprocess.fork_exec = no_fork_exec  # type: ignore[assignment]  # deliberately not its signature
    sys.dont_write_bytecode = True
    sys.addaudithook(Guard(private_roots).hook)


def read_request() -> dict[str, object]:
    chunks = []
    while chunk := os.read(0, 65536):
        chunks.append(chunk)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the candidate reads an empty stdin, as before the request existed
    os.close(null)
    return json.loads(b"".join(chunks))


def compile_file(path: str) -> types.CodeType:
    with open(path, encoding="utf-8") as source_file:
        source = source_file.read()
    return compile(source, path, "exec", dont_inherit=True)


def fresh_main_namespace(path: str) -> dict[str, object]:
    """A new `__main__` module for the candidate: none of this file's names are reachable from it."""
    module = types.ModuleType("__main__")
    module.__dict__.update({"__file__": path, "__builtins__": builtins})
    sys.modules["__main__"] = module
    sys.argv = [path]
    return module.__dict__


# The functions below run after the candidate, which shares `builtins` and `os` with this file: the
# real exec, write and _exit are bound as defaults when this file is compiled, so that replacing
# them (`builtins.exec = ...`) cannot skip the tests or the verdict.


def flush_standard_streams() -> None:
    # The candidate may have replaced them with anything; what it wrote must land before the report.
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()


Write = Callable[[int, bytes], int]
Exit = Callable[[int], object]
Run = Callable[[types.CodeType, dict[str, object]], None]


def stop_tests_not_run(reason: str, write: Write = os.write, exit_now: Exit = os._exit) -> None:
    flush_standard_streams()
    with contextlib.suppress(OSError):  # fd 2 closed by the candidate: the exit status alone still says it
        write(2, f"\n{TESTS_NOT_RUN_MARKER}{reason}\n".encode())
    exit_now(EXIT_TESTS_NOT_RUN)


def run_stage(code: types.CodeType, namespace: dict[str, object], exit_reason: str, run: Run = exec) -> None:
    try:
        run(code, namespace)
    except SystemExit as exit_request:
        stop_tests_not_run(f"{exit_reason} (SystemExit({exit_request.code!r}))")


def report_finished(report_fd: int, token: str, write: Write = os.write, exit_now: Exit = os._exit) -> None:
    """Every test ran and passed: say so where only this process can, then stop at once.

    os._exit skips the candidate's atexit handlers and leftover threads: they can no longer change
    a verdict the tests have already given.
    """
    flush_standard_streams()
    write(report_fd, token.encode())
    exit_now(0)


def main() -> None:
    request = read_request()
    candidate_path, tests_path = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    candidate = compile_file(candidate_path)
    tests = compile_file(tests_path) if tests_path is not None else None
    report_fd = os.dup(1) if tests is not None else -1  # before the candidate can redirect or close fd 1
    namespace = fresh_main_namespace(candidate_path)
    install_guard(list(request["private_roots"]))  # type: ignore[call-overload]
    if tests is None:
        exec(candidate, namespace)  # a plain program: script semantics, its own exit status
        return
    token = str(request.pop("token"))
    run_stage(candidate, namespace, "the candidate exited before the tests ran")
    run_stage(tests, namespace, "the program exited while the tests ran, so not every test ran")
    report_finished(report_fd, token)


if __name__ == "__main__":
    main()
