"""Any OpenAI-compatible server (vLLM, OpenAI, Together, DeepSeek, llama.cpp) over HTTP.

One `aiohttp` session per endpoint, reused for every call and closed once; a semaphore
per endpoint caps requests in flight; transient errors (429, 5xx, timeouts, dropped
connections) are retried with exponential backoff and jitter, preferring another replica.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from typing import Any

import aiohttp

from agentverse.config.schema import EndpointConfig, GenerationConfig
from agentverse.llms.base import BACKENDS, ChatMessage, LLMError, RawCompletion


class MissingAPIKey(ValueError):
    """The config names an API-key variable that is not set."""


class Endpoint:
    """One base URL with its own HTTP session, concurrency gate and load counter."""

    def __init__(self, base_url: str, config: EndpointConfig, api_key: str | None) -> None:
        self.base_url = base_url
        self.semaphore = asyncio.Semaphore(config.max_concurrency)
        self.in_flight = 0
        self.failures = 0
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        self._connections = config.max_concurrency
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        # Created on first use so that it belongs to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout, connector=connector)
        return self._session

    async def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = self.base_url + path
        async with self.semaphore:
            self.in_flight += 1
            try:
                async with self.session().post(url, json=payload) as response:
                    status, text = response.status, await response.text()
            except asyncio.TimeoutError as error:
                raise LLMError("timeout", f"{url}: no answer within the timeout") from error
            except aiohttp.ClientError as error:
                raise LLMError("connection", f"{url}: {error!r}") from error
            finally:
                self.in_flight -= 1
        return decode_response(status, text, url)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def decode_response(status: int, text: str, url: str) -> dict[str, Any]:
    if status == 429:
        raise LLMError("rate_limit", f"{url}: {text[:300]}", 429)
    if status >= 400:
        raise LLMError("http_status", f"{url}: {text[:500]}", status)
    try:
        body = json.loads(text)
    except ValueError as error:
        raise LLMError("bad_response", f"{url}: response is not JSON: {text[:200]!r}") from error
    if not isinstance(body, dict) or not body.get("choices"):
        raise LLMError("bad_response", f"{url}: no choices in response: {text[:200]}")
    return body


def render_chatml(messages: list[ChatMessage], prefill: str) -> str:
    """The Qwen/SmolLM2 chat format, for servers reached through the completions endpoint."""
    turns = [f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n" for message in messages]
    return "".join(turns) + f"<|im_start|>assistant\n{prefill}"


@BACKENDS.register("openai")
class OpenAIBackend:
    """Spreads requests over one or more replicas of the same served model."""

    def __init__(self, config: EndpointConfig, environ: dict[str, str] | None = None) -> None:
        self.config = config
        environ = os.environ if environ is None else environ
        api_key = None
        if config.api_key_env:
            api_key = environ.get(config.api_key_env)
            if not api_key:
                raise MissingAPIKey(f"llm.api_key_env: the environment variable {config.api_key_env} is not set")
        self.endpoints = [Endpoint(url, config, api_key) for url in config.base_urls]

    def pick_endpoint(self, avoid: set[str]) -> Endpoint:
        candidates = [endpoint for endpoint in self.endpoints if endpoint.base_url not in avoid]
        candidates = candidates or self.endpoints
        return min(candidates, key=lambda endpoint: (endpoint.in_flight, endpoint.failures, random.random()))

    def build_request(
        self, messages: list[ChatMessage], generation: GenerationConfig, prefill: str | None
    ) -> tuple[str, dict[str, Any]]:
        sampling: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": generation.max_tokens,
            "temperature": generation.temperature,
            "top_p": generation.top_p,
        }
        if generation.stop:
            sampling["stop"] = list(generation.stop)
        if generation.seed is not None:
            sampling["seed"] = generation.seed
        if prefill is not None and self.config.continuation_api == "completions":
            return "/completions", {**sampling, "prompt": render_chatml(messages, prefill)}
        payload = {**sampling, "messages": list(messages)}
        if prefill is not None:
            # vLLM continues the last assistant message instead of opening a new turn.
            payload["messages"].append({"role": "assistant", "content": prefill})
            payload["continue_final_message"] = True
            payload["add_generation_prompt"] = False
        return "/chat/completions", payload

    async def complete(
        self, messages: list[ChatMessage], generation: GenerationConfig, prefill: str | None = None
    ) -> RawCompletion:
        path, payload = self.build_request(messages, generation, prefill)
        tried: set[str] = set()
        for attempt in range(self.config.max_retries + 1):
            endpoint = self.pick_endpoint(tried)
            try:
                body = await endpoint.post(path, payload)
                return parse_completion(body, endpoint.base_url)
            except LLMError as error:
                endpoint.failures += 1
                if not error.retryable or attempt == self.config.max_retries:
                    raise
                tried.add(endpoint.base_url)
                if len(tried) == len(self.endpoints):
                    tried.clear()
                await asyncio.sleep(self.backoff(attempt))
        raise AssertionError("unreachable")

    def backoff(self, attempt: int) -> float:
        base = self.config.retry_backoff_s * (2**attempt)
        return min(base, 60.0) * (0.5 + random.random() / 2)

    async def aclose(self) -> None:
        await asyncio.gather(*(endpoint.aclose() for endpoint in self.endpoints))


def parse_completion(body: dict[str, Any], endpoint: str) -> RawCompletion:
    choice = body["choices"][0]
    message = choice.get("message")
    if message is not None:
        text = message.get("content") or ""
        reasoning = message.get("reasoning_content") or message.get("reasoning")
    else:
        text, reasoning = choice.get("text") or "", None
    usage = body.get("usage") or {}
    return RawCompletion(
        text=text,
        finish_reason=choice.get("finish_reason") or "unknown",
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        endpoint=endpoint,
        reasoning=reasoning,
    )
