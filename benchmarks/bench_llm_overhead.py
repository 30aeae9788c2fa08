#!/usr/bin/env python
"""CPU cost of the framework per LLM call, against a zero-latency fake server in another process.

Measures this process's CPU time (user + system) per call for bare POSTs with httpx and with
aiohttp (what the backend uses; httpx costs ~20x more CPU per request here),
`LLMClient.generate` (our LLM layer), and `Agent.step` (LLM layer + prompt rendering +
parsing + trace record). The server runs in a separate process so its CPU is not counted.

Usage: python benchmarks/bench_llm_overhead.py [--calls 2000] [--in-flight 64]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from agentverse.agents.agent import Agent
from agentverse.config.loader import load_task_config
from agentverse.llms.client import LLMClient
from agentverse.testing.machine import free_port
from agentverse.trace import Trace


def start_server(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "agentverse.testing.fake_server", "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.readline()  # "serving on ..."
    return process


async def measure(label: str, calls: int, in_flight: int, one_call: Callable[[], Awaitable[object]]) -> None:
    gate = asyncio.Semaphore(in_flight)

    async def bounded() -> None:
        async with gate:
            await one_call()

    await asyncio.gather(*(bounded() for _ in range(50)))  # warm up connections
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(bounded() for _ in range(calls)))
    cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
    print(f"{label:<28} {1000 * cpu / calls:6.2f} ms CPU/call   {calls / wall:7.0f} calls/s   ({calls} calls)")


async def run(port: int, calls: int, in_flight: int) -> None:
    base_url = f"http://127.0.0.1:{port}/v1"
    config, _ = load_task_config(
        "tasksolving/math500/m1-32b",
        {"llm.base_urls": [base_url], "llm.thinking": False, "llm.max_concurrency": in_flight},
    )
    messages = [{"role": "system", "content": "You are the CEO"}, {"role": "user", "content": "Decide."}]
    generation = config.agent("ceo").llm
    payload = {"model": "m1-32b", "messages": messages, "max_tokens": 64}
    async with httpx.AsyncClient(base_url=base_url, limits=httpx.Limits(max_connections=in_flight)) as client:

        async def bare() -> None:
            response = await client.post("/chat/completions", json=payload)
            response.json()

        await measure("bare httpx POST", calls, in_flight, bare)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:

        async def bare_aiohttp() -> None:
            async with session.post(f"{base_url}/chat/completions", json=payload) as response:
                await response.json()

        await measure("bare aiohttp POST", calls, in_flight, bare_aiohttp)
    llm = LLMClient.from_config(config.llm)
    await measure("LLMClient.generate", calls, in_flight, lambda: llm.generate(messages, generation))
    trace = Trace()
    ceo = Agent(config.agent("ceo"), llm, trace)
    variables = {
        "task_description": "What is 6*7?",
        "solution": "none",
        "advice": "none",
        "resources": "none",
        "max_recruits": 3,
        "token_menu": "4096, 8192",
    }
    await measure("Agent.step (CEO, parsed)", calls, in_flight, lambda: ceo.step(1, variables))
    assert all(call.status == "ok" for call in trace.calls), "the fake CEO reply should parse"
    await llm.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=64)
    args = parser.parse_args()
    port = free_port()
    server = start_server(port)
    try:
        asyncio.run(run(port, args.calls, args.in_flight))
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
