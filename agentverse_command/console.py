"""What a command shows: which agent is working while it waits, and aligned tables of numbers.

`LiveStatus` says which agent is working and for how long: on a terminal a spinner line redrawn
in place, elsewhere (a pipe, `nohup`, a SLURM log) a heartbeat line every few seconds. Every line
is flushed as it is written, so a log that is followed shows progress as it happens.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from agentverse.trace import CallEnded, CallStarted, Notice

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TERMINAL_TICK_S = 0.1
CLEAR_LINE = "\r\x1b[K"


def seconds_text(seconds: float) -> str:
    """`12 s`, `3 min 05 s`, `2 h 07 min`."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def call_label(call: CallStarted) -> str:
    retry = f", attempt {call.attempt}" if call.attempt > 1 else ""
    return f"{call.agent} (round {call.round}{retry}) working"


@dataclass(frozen=True)
class Activity:
    label: str
    started: float


class LiveStatus:
    """The activities in progress (model calls, loading), shown on `stream` while they last."""

    def __init__(self, stream: TextIO, interval_s: float, terminal: bool | None = None) -> None:
        self.stream = stream
        self.interval_s = interval_s
        self.terminal = stream.isatty() if terminal is None else terminal
        self.activities: dict[object, Activity] = {}
        self.drawn = False
        self.frame = 0

    def begin(self, key: object, label: str) -> None:
        self.activities[key] = Activity(label, time.monotonic())

    def end(self, key: object) -> None:
        self.activities.pop(key, None)
        if not self.activities:
            self.clear()

    @contextmanager
    def activity(self, label: str) -> Iterator[None]:
        key = object()
        self.begin(key, label)
        try:
            yield
        finally:
            self.end(key)

    def observe(self, notice: Notice) -> None:
        if isinstance(notice, CallStarted):
            self.begin(notice, call_label(notice))
        elif isinstance(notice, CallEnded):
            self.end(notice.started)

    def describe(self, older_than_s: float = 0.0) -> str | None:
        now = time.monotonic()
        parts = [
            f"{entry.label}, {seconds_text(now - entry.started)}"
            for entry in self.activities.values()
            if now - entry.started >= older_than_s
        ]
        return "; ".join(parts) or None

    def clear(self) -> None:
        """Erase the spinner line (before another line is printed, and when nothing is working)."""
        if self.drawn:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
            self.drawn = False

    def tick(self) -> None:
        # A heartbeat says "still working": a call younger than one interval is not mentioned yet.
        text = self.describe(0.0 if self.terminal else self.interval_s)
        if text is None:
            return
        if self.terminal:
            self.frame = (self.frame + 1) % len(SPINNER)
            # One row only: a line that wrapped could not be cleared in place (critics work together).
            room = max(10, shutil.get_terminal_size().columns - 3)
            if len(text) > room:
                text = text[: room - 1] + "…"
            self.stream.write(f"{CLEAR_LINE}{SPINNER[self.frame]} {text}")
            self.drawn = True
        else:
            self.stream.write(f"  … {text}\n")
        self.stream.flush()

    async def run(self) -> None:
        """Redraw the spinner, or print a heartbeat, until cancelled."""
        period = TERMINAL_TICK_S if self.terminal else self.interval_s
        try:
            while True:
                await asyncio.sleep(period)
                self.tick()
        finally:
            self.clear()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> list[str]:
    """Rows under headers in aligned columns: the first column left-aligned, the others right-aligned."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = []
    for row in cells:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append(indent + "  ".join([first, *rest]).rstrip())
    return lines


def counts_text(counts: dict[str, int]) -> str:
    """`correct 3, incorrect 2` (largest first), or `none`."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {count:,}" for name, count in ordered) or "none"


def tally_text(counts: dict[str, int]) -> str:
    """How often each value was chosen: `256 ×3, 512 ×1` (most often first), or `none`."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{value} ×{count:,}" for value, count in ordered) or "none"
