"""A fake OpenAI-compatible server on 127.0.0.1 for tests and benchmarks.

It is a real HTTP server (aiohttp), so the production client runs unchanged against it.
A responder decides each reply from the request body; the server counts tokens as
whitespace-separated words, truncates at `max_tokens` (finish_reason "length"), records
every request with its start/end times, and tracks how many were in flight at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeReply:
    text: str = ""
    status: int = 200  # an HTTP error status makes the server fail this request
    delay_s: float = 0.0
    drop_connection: bool = False  # close the socket without answering
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Retry-After, Location
    echo_headers: bool = False  # put the request's headers into the (error) body
    completion_tokens: int | None = None  # report this usage and send the text uncut (a replayed reply)


Responder = Callable[[dict[str, Any]], "FakeReply | Awaitable[FakeReply]"]
LatencyModel = Callable[[int, int], float]  # (completion tokens, requests in flight) -> seconds


@dataclass
class RecordedRequest:
    path: str
    payload: dict[str, Any]
    started: float
    finished: float = 0.0
    status: int = 0


@dataclass
class FakeOpenAIServer:
    responder: Responder
    latency: LatencyModel | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0
    models: tuple[str, ...] = ("fake",)  # what GET /v1/models lists
    # Like vLLM's max_num_seqs: at most this many requests run at once, the rest wait in a queue,
    # and GET /metrics reports both as vLLM does. None: no batch limit and no /metrics.
    batch_limit: int | None = None
    waiting: int = 0
    _batch: asyncio.Semaphore | None = None
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1/completions", self._handle)
        app.router.add_get("/v1/models", self._models)
        if self.batch_limit is not None:
            self._batch = asyncio.Semaphore(self.batch_limit)
            app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeOpenAIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": name, "object": "model"} for name in self.models]})

    async def _metrics(self, request: web.Request) -> web.Response:
        running = self.in_flight - self.waiting
        lines = [
            "# TYPE vllm:num_requests_running gauge",
            f'vllm:num_requests_running{{engine="0",model_name="{self.models[0]}"}} {float(running)}',
            "# TYPE vllm:num_requests_waiting gauge",
            f'vllm:num_requests_waiting{{engine="0",model_name="{self.models[0]}"}} {float(self.waiting)}',
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        record = RecordedRequest(request.path, payload, time.perf_counter())
        self.requests.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._batch is None:
                return await self._answer(request, payload, record)
            self.waiting += 1
            try:
                await self._batch.acquire()
            finally:
                self.waiting -= 1
            try:
                return await self._answer(request, payload, record)
            finally:
                self._batch.release()
        finally:
            self.in_flight -= 1
            record.finished = time.perf_counter()

    async def _answer(
        self, request: web.Request, payload: dict[str, Any], record: RecordedRequest
    ) -> web.StreamResponse:
        reply = self.responder(payload)
        if inspect.isawaitable(reply):
            reply = await reply
        words = reply.text.split(" ")
        limit = int(payload.get("max_tokens") or len(words))
        if reply.completion_tokens is not None:
            text, completion_tokens = reply.text, reply.completion_tokens
            truncated = completion_tokens >= limit
        else:
            truncated = len(words) > limit
            text = " ".join(words[:limit])
            completion_tokens = min(len(words), limit) if reply.text else 0
        delay = reply.delay_s + (self.latency(completion_tokens, self.in_flight) if self.latency else 0.0)
        if delay:
            await asyncio.sleep(delay)
        record.status = reply.status
        if reply.drop_connection:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if reply.status != 200:
            message = (
                f"injected failure; request headers: {dict(request.headers)}"
                if reply.echo_headers
                else ("injected failure")
            )
            return web.json_response({"error": {"message": message}}, status=reply.status, headers=reply.headers)
        return web.json_response(completion_body(payload, text, truncated, completion_tokens, request.path))


def completion_body(
    payload: dict[str, Any], text: str, truncated: bool, completion_tokens: int, path: str
) -> dict[str, Any]:
    prompt = payload.get("prompt") or " ".join(message["content"] for message in payload.get("messages", []))
    finish_reason = "length" if truncated else "stop"
    if path.endswith("/chat/completions"):
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}}
    else:
        choice = {"index": 0, "text": text}
    choice["finish_reason"] = finish_reason
    prompt_tokens = len(prompt.split())
    return {
        "id": "fake",
        "object": "chat.completion" if "message" in choice else "text_completion",
        "model": payload.get("model", "fake"),
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def classify_agent(payload: dict[str, Any]) -> str:
    """Which agent sent this request, judged from the shipped configs' system prompts."""
    messages = payload.get("messages") or [{"role": "user", "content": payload.get("prompt", "")}]
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    text = system or messages[-1]["content"]
    markers = [
        ("You are the CEO", "ceo"),
        ("You recruit experts", "role_assigner"),
        ("You are the solver", "solver"),
        ("You review a solution", "critic"),
        ("impartial evaluator", "evaluator"),
    ]
    for marker, agent in markers:
        if marker in text:
            return agent
    return "unknown"


def cooperative_reply(agent: str, payload: dict[str, Any]) -> str:
    """Protocol-correct answers: the CEO continues, critics agree, the evaluator approves."""
    replies = {
        "ceo": "### Decision: <Continue>\n### Recruit Number: 2\n### Direction: Check each step.\n"
        "### Maximum Tokens: 4096",
        "role_assigner": "1. A mathematician specialized in algebra, with expertise in equations\n"
        "2. A reviewer specialized in proofs, with expertise in verification\n"
        "3. A programmer specialized in Python, with expertise in testing\n"
        "4. A scientist specialized in physics, with expertise in estimation",
        "solver": "The answer is \\boxed{42}.\n```python\ndef answer():\n    return 42\n```",
        "critic": "The reasoning holds. [Agree]",
        "evaluator": "### Correctness: 1\n### Advice: None needed.\n### Recruiting Suggestion: None.",
    }
    return replies.get(agent, "I cannot tell which agent asked.")


def cooperative_responder(payload: dict[str, Any]) -> FakeReply:
    return FakeReply(cooperative_reply(classify_agent(payload), payload))


class ScriptedResponder:
    """Answers each agent from its own script; the last entry repeats. Unscripted agents cooperate.

    A script entry is a reply text, a `FakeReply`, or a function of the request payload.
    """

    def __init__(self, **scripts: list[str | FakeReply | Callable[[dict[str, Any]], FakeReply]]) -> None:
        self.scripts = scripts
        self.payloads: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, payload: dict[str, Any]) -> FakeReply:
        agent = classify_agent(payload)
        seen = self.payloads.setdefault(agent, [])
        seen.append(payload)
        script = self.scripts.get(agent)
        if not script:
            return FakeReply(cooperative_reply(agent, payload))
        entry = script[min(len(seen), len(script)) - 1]
        if callable(entry):
            return entry(payload)
        return entry if isinstance(entry, FakeReply) else FakeReply(entry)

    def count(self, agent: str) -> int:
        return len(self.payloads.get(agent, []))


class BackgroundServer:
    """Runs a FakeOpenAIServer on its own event loop in a thread (for subprocess tests and benchmarks)."""

    def __init__(
        self,
        responder: Responder,
        latency: LatencyModel | None = None,
        port: int = 0,
        models: tuple[str, ...] = ("fake",),
        batch_limit: int | None = None,
    ) -> None:
        self.server = FakeOpenAIServer(responder, latency=latency, port=port, models=models, batch_limit=batch_limit)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: Any = None

    def __enter__(self) -> FakeOpenAIServer:
        import threading

        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.server.start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.server.stop())
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        if not ready.wait(timeout=30):
            raise RuntimeError("the fake server did not start")
        return self.server

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


TWO_ROUNDS_CEO = (
    "### Decision: <Continue>\n### Recruit Number: {recruits}\n### Direction: {direction}\n### Maximum Tokens: 4096"
)
ROUND_ONE, ROUND_TWO = "Check each step.", "Recheck the answer."
CRITIQUE = "The last step is wrong."


def two_round_dialogue(payload: dict[str, Any]) -> FakeReply:
    """The 13-call dialogue of the research transcript api_2rounds, for every problem: round 1 with
    one critic who disagrees once and an evaluator who says 0; round 2 with two critics who agree
    and an evaluator who says 1. Each reply is read off the request itself, so any number of
    replicas (and reruns) answer alike."""
    agent = classify_agent(payload)
    text = "\n".join(message.get("content", "") for message in payload.get("messages", []))
    if agent == "ceo":
        first = "No solution yet." in text
        return FakeReply(TWO_ROUNDS_CEO.format(recruits=2 if first else 3, direction=ROUND_ONE if first else ROUND_TWO))
    if agent == "critic":
        disagree = ROUND_ONE in text and CRITIQUE not in text
        return FakeReply(f"{CRITIQUE} [Disagree]" if disagree else "It holds. [Agree]")
    if agent == "evaluator":
        verdict = "1" if "A programmer specialized in Python" in text else "0"  # round 2 recruits a third expert
        return FakeReply(f"### Correctness: {verdict}\n### Advice: Recheck.\n### Recruiting Suggestion: None.")
    return FakeReply(cooperative_reply(agent, payload))


def main(argv: list[str] | None = None) -> int:
    """Serve the cooperative responder: `python -m agentverse.testing.fake_server --port 8123`."""
    import argparse

    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server answering every agent's protocol.")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--step-time", type=float, default=0.0, help="Seconds per generated token.")
    parser.add_argument(
        "--slowdown-per-request",
        type=float,
        default=0.0,
        help="Step time grows by this fraction per request in flight.",
    )
    parser.add_argument("--pad-words", type=int, default=0, help="Words of filler reasoning before each reply.")
    parser.add_argument(
        "--model", action="append", dest="models", help="A model name GET /v1/models lists (repeatable; default fake)."
    )
    parser.add_argument(
        "--dialogue",
        choices=["cooperative", "two-rounds"],
        default="cooperative",
        help="cooperative: every agent agrees (5 calls a problem); two-rounds: the 13-call dialogue of api_2rounds.",
    )
    parser.add_argument(
        "--batch-limit", type=int, help="Run at most this many at once, queue the rest; serve /metrics."
    )
    args = parser.parse_args(argv)
    filler = " ".join(["thinking"] * args.pad_words)
    dialogue: Responder = two_round_dialogue if args.dialogue == "two-rounds" else cooperative_responder

    def responder(payload: dict[str, Any]) -> FakeReply:
        reply = dialogue(payload)
        assert isinstance(reply, FakeReply)
        return FakeReply(f"{filler}\n{reply.text}" if filler else reply.text)

    def gpu_like(tokens: int, in_flight: int) -> float:
        # A batching server: each request pays per token; steps slow down a little as the batch grows.
        return tokens * args.step_time * (1 + args.slowdown_per_request * in_flight)

    async def serve() -> None:
        latency = gpu_like if args.step_time else None
        models = tuple(args.models or ["fake"])
        server = FakeOpenAIServer(
            responder, latency=latency, port=args.port, models=models, batch_limit=args.batch_limit
        )
        await server.start()
        print(f"serving on {server.base_url}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
