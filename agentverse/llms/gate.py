"""The cap on one endpoint's requests in flight, its in-flight profile, and the `auto` cap.

The cap may change while requests wait (`--max-concurrency auto` follows the server's own queue,
read from vLLM's Prometheus `/metrics`); waiters are served in arrival order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CAP = 256  # vLLM's default batch (max_num_seqs)
AUTO_FLOOR = 8
AUTO_CEILING = 4096


class EndpointLoad(BaseModel):
    """How busy one endpoint was kept during a run session."""

    model_config = ConfigDict(frozen=True)

    endpoint: str
    requests: int = Field(description="Requests sent (retries included).")
    peak_in_flight: int
    mean_in_flight: float = Field(description="Time-weighted, over the time the endpoint had work.")
    cap: int = Field(description="The cap on requests in flight at the end (it moves under `auto`).")
    waited_for_cap_s: float = Field(description="Summed time requests waited for a free slot under the cap.")
    busy_s: float = Field(description="From the first request to the last reply.")


class RequestGate:
    """Lets at most `limit` requests through at once; the limit may change at any time."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        self.requests = 0
        self.waited_s = 0.0
        self.saturated = False  # a request waited for a slot since the flag was last cleared
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._area = 0.0
        self._last_change: float | None = None
        self._first: float | None = None
        self._last: float | None = None

    async def __aenter__(self) -> RequestGate:
        await self.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    async def acquire(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self._enter()
            return
        self.saturated = True
        started = time.perf_counter()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future  # the releaser took the slot for us before waking us
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # woken and cancelled at once: give the slot back
            raise
        finally:
            self.waited_s += time.perf_counter() - started

    def release(self) -> None:
        self._account()
        self.in_flight -= 1
        self._last = time.monotonic()
        self._wake()

    @property
    def waiting(self) -> int:
        return sum(not future.done() for future in self._waiters)

    def set_limit(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._wake()

    def _enter(self) -> None:
        self._account()
        self.in_flight += 1
        self.requests += 1
        self.peak = max(self.peak, self.in_flight)
        if self._first is None:
            self._first = time.monotonic()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            future = self._waiters.popleft()
            if not future.done():
                self._enter()
                future.set_result(None)

    def _account(self) -> None:
        now = time.monotonic()
        if self._last_change is not None:
            self._area += self.in_flight * (now - self._last_change)
        self._last_change = now

    def load(self, endpoint: str) -> EndpointLoad:
        busy = (self._last or 0.0) - self._first if self._first is not None and self._last is not None else 0.0
        return EndpointLoad(
            endpoint=endpoint,
            requests=self.requests,
            peak_in_flight=self.peak,
            mean_in_flight=round(self._area / busy, 2) if busy > 0 else 0.0,
            cap=self.limit,
            waited_for_cap_s=round(self.waited_s, 3),
            busy_s=round(busy, 3),
        )


def parse_vllm_queue(text: str) -> tuple[float, float] | None:
    """(running, waiting) summed over engines from a Prometheus page, or None without vLLM's metrics."""
    totals = {"vllm:num_requests_running": 0.0, "vllm:num_requests_waiting": 0.0}
    seen = set()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            try:
                totals[name] += float(line.rsplit(" ", 1)[1])
            except (IndexError, ValueError):
                continue
            seen.add(name)
    if len(seen) < len(totals):
        return None
    return totals["vllm:num_requests_running"], totals["vllm:num_requests_waiting"]


def next_cap(
    cap: int, running: float, waiting: float, saturated: bool, ceiling: float | None
) -> tuple[int, float | None]:
    """One reading of the `auto` rule, as (cap, ceiling). A queue on the server means our cap is
    above its batch: come down to what it runs, and remember that as the ceiling. No queue while
    our requests wait for the cap means there is room: go up, but not past the ceiling (unless the
    server has since run more than it, e.g. another replica joined behind a data-parallel endpoint)."""
    tolerated = max(1.0, running / 20)
    if waiting > tolerated:
        return min(cap, max(AUTO_FLOOR, int(running + tolerated))), running
    if ceiling is not None and running > ceiling:
        ceiling = running
    if saturated and waiting == 0:
        higher = min(AUTO_CEILING, max(cap + 8, int(cap * 1.25)))
        if ceiling is not None:
            higher = min(higher, max(cap, int(ceiling + tolerated)))
        return higher, ceiling
    return cap, ceiling


class AutoCap:
    """`next_cap` over successive readings: a queue must show in QUEUED_READINGS readings running
    before the cap comes down, and then to the most the server ran meanwhile (one reading taken
    while requests finish or wait for admission must not cut the batch)."""

    def __init__(self) -> None:
        self.ceiling: float | None = None
        self.queued = 0
        self.most_running = 0.0

    def next(self, cap: int, running: float, waiting: float, saturated: bool) -> int:
        if waiting > max(1.0, running / 20):
            self.queued += 1
            self.most_running = max(self.most_running, running)
            if self.queued < QUEUED_READINGS:
                return cap
            running = self.most_running
        else:
            self.queued, self.most_running = 0, 0.0
        cap, self.ceiling = next_cap(cap, running, waiting, saturated, self.ceiling)
        return cap


QUEUED_READINGS = 2
