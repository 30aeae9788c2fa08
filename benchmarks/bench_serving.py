#!/usr/bin/env python
"""Completion throughput and latency of OpenAI-compatible servers at fixed requests in flight.

Every request sends the same prompt and asks for the same number of tokens; with
`ignore_eos` (vLLM accepts it; the script drops it when a server refuses it) every reply is
exactly that long, so levels compare equal work. Reported per level: aggregate completion
tokens/s (all tokens / wall time) and mean latency per request.

Usage:
  python benchmarks/bench_serving.py --base-url http://127.0.0.1:8000/v1 [--model m1-32b]
  python benchmarks/bench_serving.py --base-url http://node1:8000/v1 --base-url http://node2:8000/v1 \
      --concurrency 1 16 64 --max-tokens 512 --output outputs/bench.json
With several base URLs (replicas of one model), `--concurrency` is per URL and the tokens/s
is summed over all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_PROMPT = (
    "Explain, step by step, how to compute the greatest common divisor of two integers "
    "with the Euclidean algorithm, and work through the example 1071 and 462."
)


@dataclass(frozen=True)
class RequestResult:
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass(frozen=True)
class LevelReport:
    in_flight_per_endpoint: int
    endpoints: int
    requests: int
    failed: int
    wall_s: float
    completion_tokens: int
    completion_tokens_per_s: float
    mean_latency_s: float
    median_latency_s: float
    max_latency_s: float
    mean_request_tokens_per_s: float
    mean_prompt_tokens: float
    finish_reasons: dict[str, int]


class Target:
    """One base URL with its client; built inside the running event loop."""

    def __init__(self, base_url: str, api_key: str | None, max_connections: int, timeout_s: float) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def first_model(self) -> str:
        response = await self.client.get("/models")
        response.raise_for_status()
        return str(response.json()["data"][0]["id"])


def build_payload(arguments: argparse.Namespace, model: str, ignore_eos: bool) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {
        "model": model,
        "max_tokens": arguments.max_tokens,
        "temperature": arguments.temperature,
        "top_p": arguments.top_p,
    }
    if ignore_eos:
        payload["ignore_eos"] = True
    if arguments.endpoint == "completions":
        prompt = f"<|im_start|>user\n{arguments.prompt}<|im_end|>\n<|im_start|>assistant\n"
        return "/completions", {**payload, "prompt": prompt}
    return "/chat/completions", {**payload, "messages": [{"role": "user", "content": arguments.prompt}]}


async def send(target: Target, path: str, payload: dict[str, Any]) -> RequestResult:
    started = time.perf_counter()
    response = await target.client.post(path, json=payload)
    latency = time.perf_counter() - started
    response.raise_for_status()
    body = response.json()
    usage = body.get("usage") or {}
    return RequestResult(
        latency_s=latency,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=str(body["choices"][0].get("finish_reason")),
    )


async def supports_ignore_eos(target: Target, path: str, payload: dict[str, Any]) -> bool:
    """One short request with ignore_eos; a 4xx means the server rejects the field."""
    response = await target.client.post(path, json={**payload, "max_tokens": 1, "ignore_eos": True})
    return response.status_code < 400


async def run_level(
    targets: list[Target], path: str, payload: dict[str, Any], in_flight: int, requests_per_endpoint: int
) -> LevelReport:
    async def drive(target: Target) -> list[RequestResult | BaseException]:
        gate = asyncio.Semaphore(in_flight)

        async def one() -> RequestResult:
            async with gate:
                return await send(target, path, payload)

        return await asyncio.gather(*(one() for _ in range(requests_per_endpoint)), return_exceptions=True)

    started = time.perf_counter()
    outcomes = [item for batch in await asyncio.gather(*(drive(t) for t in targets)) for item in batch]
    wall = time.perf_counter() - started
    results = [item for item in outcomes if isinstance(item, RequestResult)]
    for error in (item for item in outcomes if not isinstance(item, RequestResult)):
        print(f"request failed: {error!r}", file=sys.stderr)
    latencies = [result.latency_s for result in results] or [0.0]
    tokens = sum(result.completion_tokens for result in results)
    finish_reasons: dict[str, int] = {}
    for result in results:
        finish_reasons[result.finish_reason] = finish_reasons.get(result.finish_reason, 0) + 1
    return LevelReport(
        in_flight_per_endpoint=in_flight,
        endpoints=len(targets),
        requests=len(outcomes),
        failed=len(outcomes) - len(results),
        wall_s=round(wall, 3),
        completion_tokens=tokens,
        completion_tokens_per_s=round(tokens / wall, 2) if wall > 0 else 0.0,
        mean_latency_s=round(statistics.fmean(latencies), 3),
        median_latency_s=round(statistics.median(latencies), 3),
        max_latency_s=round(max(latencies), 3),
        mean_request_tokens_per_s=round(
            statistics.fmean(r.completion_tokens / r.latency_s for r in results) if results else 0.0, 2
        ),
        mean_prompt_tokens=round(statistics.fmean(r.prompt_tokens for r in results), 1) if results else 0.0,
        finish_reasons=finish_reasons,
    )


async def benchmark(arguments: argparse.Namespace) -> dict[str, Any]:
    api_key = os.environ.get(arguments.api_key_env) if arguments.api_key_env else None
    widest = max(arguments.concurrency)
    targets = [Target(url, api_key, widest, arguments.timeout) for url in arguments.base_url]
    try:
        model = arguments.model or await targets[0].first_model()
        path, payload = build_payload(arguments, model, ignore_eos=False)
        ignore_eos = arguments.ignore_eos and all(
            [await supports_ignore_eos(target, path, payload) for target in targets]
        )
        if arguments.ignore_eos and not ignore_eos:
            print("a server rejects ignore_eos: replies may be shorter than --max-tokens", file=sys.stderr)
        path, payload = build_payload(arguments, model, ignore_eos)
        # Warm-up: first requests pay one-off costs (allocation, prefix cache fill).
        await asyncio.gather(*(send(target, path, payload) for target in targets))
        levels = []
        for in_flight in arguments.concurrency:
            requests = arguments.requests or max(arguments.waves * in_flight, arguments.minimum_requests)
            report = await run_level(targets, path, payload, in_flight, requests)
            print(format_level(report), file=sys.stderr)
            levels.append(asdict(report))
    finally:
        await asyncio.gather(*(target.client.aclose() for target in targets))
    return {
        "base_urls": [target.base_url for target in targets],
        "model": model,
        "endpoint": path,
        "max_tokens": arguments.max_tokens,
        "temperature": arguments.temperature,
        "top_p": arguments.top_p,
        "ignore_eos": ignore_eos,
        "levels": levels,
    }


def format_level(report: LevelReport) -> str:
    return (
        f"in flight {report.in_flight_per_endpoint:>3} x {report.endpoints} endpoint(s): "
        f"{report.requests} requests ({report.failed} failed) in {report.wall_s:.1f} s, "
        f"{report.completion_tokens_per_s:.1f} completion tokens/s, "
        f"mean latency {report.mean_latency_s:.2f} s, "
        f"per request {report.mean_request_tokens_per_s:.1f} tokens/s"
    )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", action="append", required=True, help="Base URL ending in /v1; repeatable.")
    parser.add_argument("--model", default=None, help="Served model name (default: the first of /v1/models).")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16], help="Requests in flight per base URL.")
    parser.add_argument("--max-tokens", type=int, default=128, help="Completion tokens per request.")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help="The fixed user prompt.")
    parser.add_argument(
        "--endpoint", choices=["chat", "completions"], default="chat", help="chat/completions or completions."
    )
    parser.add_argument("--no-ignore-eos", dest="ignore_eos", action="store_false", help="Do not ask for ignore_eos.")
    parser.add_argument("--requests", type=int, default=0, help="Requests per level and URL.")
    parser.add_argument("--waves", type=int, default=2, help="Default requests = waves x in flight.")
    parser.add_argument("--minimum-requests", type=int, default=4, help="Floor for the default count.")
    parser.add_argument("--timeout", type=float, default=600.0, help="Seconds per request.")
    parser.add_argument("--api-key-env", default=None, help="Variable holding the API key, if any.")
    parser.add_argument("--output", type=Path, default=None, help="Write the report as JSON here.")
    arguments = parser.parse_args(argv)
    if min(arguments.concurrency) < 1 or arguments.max_tokens < 1:
        parser.error("--concurrency and --max-tokens must be positive")
    if arguments.api_key_env and not os.environ.get(arguments.api_key_env):
        parser.error(f"--api-key-env: the environment variable {arguments.api_key_env} is not set")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    report = asyncio.run(benchmark(arguments))
    text = json.dumps(report, indent=2)
    if arguments.output:
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 1 if any(level["failed"] for level in report["levels"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
