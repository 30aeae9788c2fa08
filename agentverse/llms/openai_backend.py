"""Any OpenAI-compatible server (vLLM, OpenAI, Together, DeepSeek, llama.cpp) over HTTP.

One `aiohttp` session per endpoint, reused for every call and closed once; a semaphore
per endpoint caps requests in flight; transient errors (408/409/425/429, 5xx, timeouts, dropped
connections) are retried with exponential backoff and jitter, preferring another replica, and
never sooner than the server's `Retry-After`. Permanent errors (invalid URL, DNS failure,
redirects, other 4xx) are not retried.

The API key never leaves the request header: error texts are built from the URL, the status and
a bounded excerpt of the body, and the key's value is redacted from anything the server or the
client library says. Redirects are not followed (they would carry the header elsewhere).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from agentverse.config.schema import EndpointConfig, GenerationConfig, check_base_url
from agentverse.llms.base import (
    BACKENDS,
    UNREACHABLE_KINDS,
    Attempt,
    ChatMessage,
    ContextOverflow,
    LLMError,
    RawCompletion,
)
from agentverse.llms.gate import AutoCap, EndpointLoad, RequestGate, parse_vllm_queue

BODY_EXCERPT_CHARS = 300
ERROR_TEXT_CHARS = 200
LONGEST_RETRY_AFTER_S = 600.0  # a longer Retry-After is waited for this long at most
REDACTED = "[redacted]"
CONTEXT_REJECTION = re.compile(
    r"context length|maximum context|context window|too many tokens|prompt is too long", re.I
)
PROBE_AFTER_S = 30.0  # a down endpoint gets one trial request after this long
CHECK_TIMEOUT_S = 10.0
AUTO_INTERVAL_S = 1.0  # `auto` reads each server's queue this often
ENDPOINTS_REREAD_S = 1.0  # the endpoints file is looked at this often
ADMIT_RETRY_S = 5.0  # a replica new in the file is asked for its models this often until it serves ours
METRICS_ATTEMPTS = 3  # `auto` gives up on an endpoint whose /metrics has no vLLM gauges this many times running


class MissingAPIKey(ValueError):
    """The config names an API-key variable that is not set."""


class EndpointCheckError(ValueError):
    """Before a run: no endpoint answers, or none serves the configured model."""


def api_key_from(config: EndpointConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The key named by `api_key_env` (None when the endpoint needs none); checked before a run starts."""
    if not config.api_key_env:
        return None
    api_key = (os.environ if environ is None else environ).get(config.api_key_env)
    if not api_key:
        raise MissingAPIKey(f"llm.api_key_env: the environment variable {config.api_key_env} is not set")
    return api_key


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def describe_client_error(error: aiohttp.ClientError) -> str:
    """What went wrong, without `repr()`: some aiohttp errors carry the request (and its headers)."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect ({error.os_error.strerror or type(error.os_error).__name__})"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"{type(error).__name__} {error.status}: {error.message}"[:ERROR_TEXT_CHARS]
    return f"{type(error).__name__}: {error}"[:ERROR_TEXT_CHARS]


class Endpoint:
    """One base URL with its own HTTP session, concurrency gate and load counter."""

    def __init__(self, base_url: str, config: EndpointConfig, api_key: str | None) -> None:
        self.base_url = base_url
        self.gate = RequestGate(config.cap())
        self.failures = 0
        self.consecutive_unreachable = 0
        self.down_since: float | None = None
        self.excluded = False  # it does not serve the model: never used in this run
        self.retired = False  # removed from the endpoints file: no new requests
        self.last_error = ""
        self._breaker_threshold = config.circuit_breaker_failures
        self._secret = api_key
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        # Created on first use so that it belongs to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0)  # the gate caps requests in flight
            self._session = aiohttp.ClientSession(headers=self._headers, connector=connector)
        return self._session

    @property
    def usable(self) -> bool:
        """Up, or down long enough that one trial request may tell whether it is back."""
        if self.excluded or self.retired:
            return False
        return self.down_since is None or time.monotonic() - self.down_since >= PROBE_AFTER_S

    def record_success(self) -> None:
        self.consecutive_unreachable = 0
        self.down_since = None

    def record_failure(self, error: LLMError) -> None:
        self.failures += 1
        self.last_error = error.message
        if error.kind not in UNREACHABLE_KINDS:
            return
        self.consecutive_unreachable += 1
        if self.consecutive_unreachable >= self._breaker_threshold or self.down_since is not None:
            self.down_since = time.monotonic()  # (re)opened: a failed trial restarts the wait

    def redact(self, text: str) -> str:
        return text.replace(self._secret, REDACTED) if self._secret else text

    async def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = self.base_url + path
        seconds = self._config.request_timeout(int(payload.get("max_tokens") or 0))
        async with self.gate:
            if self.retired:  # it left the endpoints file while this request waited for a slot
                raise LLMError("retired", f"{self.base_url}: removed from the endpoints file")
            status, text, headers = await self._send("POST", url, payload, seconds)
        return decode_response(status, text, url, headers)

    @property
    def in_flight(self) -> int:
        return self.gate.in_flight

    def load_share(self) -> float:
        """Requests in flight or waiting, as a share of the cap."""
        return (self.gate.in_flight + self.gate.waiting) / self.gate.limit

    async def _send(
        self, method: str, url: str, payload: dict[str, Any] | None, seconds: float
    ) -> tuple[int, str, Mapping[str, str]]:
        """One HTTP exchange: (status, body, headers) with the key redacted, or a classified LLMError."""
        try:
            status, text, headers = await self._exchange(method, url, payload, seconds)
        except LLMError as error:
            raise LLMError(error.kind, self.redact(error.message), error.status_code) from None
        return status, self.redact(text), headers

    async def _exchange(
        self, method: str, url: str, payload: dict[str, Any] | None, seconds: float
    ) -> tuple[int, str, Mapping[str, str]]:
        timeout = aiohttp.ClientTimeout(total=seconds)
        try:
            async with self.session().request(
                method, url, json=payload, allow_redirects=False, timeout=timeout
            ) as response:
                return response.status, await response.text(), response.headers
        except TimeoutError:
            raise LLMError("timeout", f"{url}: no answer within {seconds:g} s") from None
        except aiohttp.InvalidURL:
            raise LLMError("invalid_url", f"{url}: not a valid URL") from None
        except aiohttp.ClientConnectorDNSError:
            raise LLMError("dns", f"{url}: the host name does not resolve") from None
        except aiohttp.ClientConnectorError as error:
            raise LLMError("refused", f"{url}: {describe_client_error(error)}") from None
        except aiohttp.ClientError as error:
            raise LLMError("connection", f"{url}: {describe_client_error(error)}") from None
        except UnicodeDecodeError:
            raise LLMError("bad_response", f"{url}: the reply is not valid text") from None

    async def served_models(self) -> list[str]:
        """The model names `GET /models` lists; raises LLMError when the endpoint cannot be reached."""
        url = self.base_url + "/models"
        status, text, _ = await self._send("GET", url, None, CHECK_TIMEOUT_S)
        if status != 200:
            raise LLMError("http_status", f"GET {url} answered {status}", status)
        try:
            listed = json.loads(text).get("data") or []
            return [str(entry["id"]) for entry in listed if isinstance(entry, dict) and "id" in entry]
        except (ValueError, AttributeError, TypeError):
            raise LLMError("bad_response", f"GET {url}: not a model list") from None

    async def queue(self) -> tuple[float, float] | None:
        """(running, waiting) from vLLM's Prometheus `/metrics` beside the API; None when the server
        publishes no such metrics. Raises LLMError when it cannot be reached."""
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        status, text, _ = await self._send("GET", f"{root}/metrics", None, CHECK_TIMEOUT_S)
        return parse_vllm_queue(text) if status == 200 else None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def decode_response(status: int, text: str, url: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    headers = headers or {}
    excerpt = text[:BODY_EXCERPT_CHARS]
    if 300 <= status < 400:
        location = urlsplit(headers.get("Location", "?"))._replace(query="", fragment="").geturl()
        raise LLMError("redirect", f"{url}: answered {status} with a redirect to {location} (not followed)", status)
    retry_after = retry_after_seconds(headers.get("Retry-After"))
    if status == 429:
        raise LLMError("rate_limit", f"{url}: {excerpt}", 429, retry_after)
    if status == 400 and CONTEXT_REJECTION.search(text):
        # The server counted the prompt (our estimate is rough): a model-side failure, as when we count.
        raise ContextOverflow(f"{url}: the server rejected the prompt as too long: {excerpt}")
    if status >= 400:
        raise LLMError("http_status", f"{url}: {excerpt}", status, retry_after)
    try:
        body = json.loads(text)
    except ValueError:
        raise LLMError("bad_response", f"{url}: response is not JSON: {text[:200]!r}") from None
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

    def __init__(self, config: EndpointConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self._api_key = api_key_from(config, environ)
        self.endpoints_file = Path(config.endpoints_file) if config.endpoints_file else None
        # The stamp is taken before the first read: a change made while the run starts is seen.
        self._file_stamp = file_stamp(self.endpoints_file) if self.endpoints_file else None
        urls = read_endpoints_file(self.endpoints_file) if self.endpoints_file else list(config.base_urls)
        self.endpoints = [Endpoint(url, config, self._api_key) for url in urls]
        self.notices: list[str] = []  # what changed while running (the runner logs them)
        self._watchers: list[asyncio.Task[None]] = []
        self._following: set[str] = set()  # endpoints whose queue `auto` follows
        self._watching = False

    def notice(self, text: str) -> None:
        self.notices.append(text)
        print(f"note: {text}", file=sys.stderr, flush=True)

    def start_watching(self) -> None:
        """Follow the servers' queues (`auto`) and the endpoints file, once a run has started."""
        if self._watching:
            return
        self._watching = True
        for endpoint in self.endpoints:
            self.follow_queue(endpoint)
        if self.endpoints_file is not None:
            self._watchers.append(asyncio.ensure_future(self._follow_file(self.endpoints_file)))

    def follow_queue(self, endpoint: Endpoint) -> None:
        if self.config.max_concurrency == "auto" and endpoint.base_url not in self._following:
            self._following.add(endpoint.base_url)
            self._watchers.append(asyncio.ensure_future(self._follow_queue(endpoint)))

    async def _follow_queue(self, endpoint: Endpoint) -> None:
        """`auto`: every AUTO_INTERVAL_S, move the cap by the server's queue (see `AutoCap`)."""
        rule = AutoCap()
        missing = 0
        try:
            while not endpoint.retired:
                await asyncio.sleep(AUTO_INTERVAL_S)
                try:
                    queue = await endpoint.queue()
                except LLMError:
                    continue  # down for now: its circuit breaker decides
                missing = missing + 1 if queue is None else 0
                if missing >= METRICS_ATTEMPTS:
                    self.notice(
                        f"{endpoint.base_url} publishes no vLLM /metrics: its cap stays at {endpoint.gate.limit}"
                    )
                    return
                if queue is not None:
                    endpoint.gate.set_limit(rule.next(endpoint.gate.limit, *queue, endpoint.gate.saturated))
                    endpoint.gate.saturated = False
        finally:
            self._following.discard(endpoint.base_url)

    async def _follow_file(self, path: Path) -> None:
        while True:
            await asyncio.sleep(ENDPOINTS_REREAD_S)
            stamp = file_stamp(path)
            if stamp == self._file_stamp:
                continue
            self._file_stamp = stamp
            try:
                urls = read_endpoints_file(path)
            except EndpointCheckError as error:
                self.notice(f"{error}; keeping the current endpoints")
                continue
            self.sync_endpoints(urls)

    def sync_endpoints(self, urls: list[str]) -> None:
        """Add the file's new replicas (each used once it lists the model); retire those it no longer
        lists (their requests in flight finish, their queued ones go elsewhere)."""
        known = {endpoint.base_url: endpoint for endpoint in self.endpoints}
        for url in urls:
            endpoint = known.get(url)
            if endpoint is None:
                endpoint = Endpoint(url, self.config, self._api_key)
                endpoint.excluded = True  # until it says it serves the model
                self.endpoints.append(endpoint)
                self._watchers.append(asyncio.ensure_future(self._admit(endpoint)))
            elif endpoint.retired:
                endpoint.retired = False
                self.follow_queue(endpoint)
                self.notice(f"endpoints file: {url} is back")
        for endpoint in self.endpoints:
            if endpoint.base_url not in urls and not endpoint.retired:
                endpoint.retired = True
                self.notice(f"endpoints file: {endpoint.base_url} left it: no new requests go there")

    async def _admit(self, endpoint: Endpoint) -> None:
        """A replica that joined the file takes requests once GET /models lists the run's model."""
        said = False
        while not endpoint.retired:
            try:
                served = await endpoint.served_models()
            except LLMError:
                served = None  # not up yet
            if served is not None and self.config.model in served:
                endpoint.excluded = False
                self.follow_queue(endpoint)
                self.notice(f"endpoints file: {endpoint.base_url} joins the run")
                return
            if served is not None and not said:
                self.notice(
                    f"endpoints file: {endpoint.base_url} serves {', '.join(served) or 'no model'}, not "
                    f"{self.config.model!r}: not used until it does"
                )
                said = True
            await asyncio.sleep(ADMIT_RETRY_S)

    def load(self) -> list[EndpointLoad]:
        """How busy each endpoint was kept (those that took requests, or are still listed)."""
        return [
            endpoint.gate.load(endpoint.base_url)
            for endpoint in self.endpoints
            if endpoint.gate.requests or not endpoint.retired
        ]

    def total_cap(self) -> int:
        """Requests the usable endpoints take at once (it grows as replicas join)."""
        return sum(endpoint.gate.limit for endpoint in self.endpoints if endpoint.usable) or 1

    @property
    def unreachable(self) -> bool:
        """Every endpoint's circuit breaker is open."""
        return not any(endpoint.usable for endpoint in self.endpoints)

    def unreachable_message(self) -> str:
        reasons = ", ".join(f"{endpoint.base_url} ({endpoint.last_error})" for endpoint in self.endpoints)
        return f"no endpoint reachable: {reasons}"

    async def check(self) -> list[str]:
        """Ask every endpoint which models it serves, before a run.

        Returns warnings (an endpoint down while others are up; an endpoint that lists no models);
        raises EndpointCheckError when no endpoint answers, or none that answers lists the model.
        """
        outcomes = await asyncio.gather(
            *(endpoint.served_models() for endpoint in self.endpoints), return_exceptions=True
        )
        warnings, reachable, missing = [], [], []
        for endpoint, outcome in zip(self.endpoints, outcomes, strict=True):
            if isinstance(outcome, LLMError) and outcome.kind in (*UNREACHABLE_KINDS, "timeout"):
                warnings.append(f"{endpoint.base_url}: unreachable ({outcome.message}); marked down")
                endpoint.last_error, endpoint.down_since = outcome.message, time.monotonic()
                continue
            reachable.append(endpoint)
            if isinstance(outcome, LLMError) and outcome.status_code in (401, 403):
                raise EndpointCheckError(f"{endpoint.base_url}: the server refused the request ({outcome.message})")
            if isinstance(outcome, BaseException):
                warnings.append(f"{endpoint.base_url}: cannot list its models ({outcome}); trying anyway")
            elif self.config.model not in outcome:
                missing.append(f"{endpoint.base_url} serves {', '.join(outcome) or 'no model'}")
                endpoint.excluded, endpoint.last_error = True, f"does not serve {self.config.model!r}"
        if not reachable:
            raise EndpointCheckError(self.unreachable_message())
        if len(missing) == len(reachable):
            raise EndpointCheckError(f"model {self.config.model!r} is not served: {'; '.join(missing)}")
        return warnings + [f"model {self.config.model!r} is not served at {entry}" for entry in missing]

    def pick_endpoint(self, avoid: set[str]) -> Endpoint:
        usable = [endpoint for endpoint in self.endpoints if endpoint.usable]
        if not usable:
            raise LLMError("unreachable", self.unreachable_message())
        candidates = [endpoint for endpoint in usable if endpoint.base_url not in avoid] or usable
        # The one with the most room under its cap (a full one only when all are full).
        return min(candidates, key=lambda endpoint: (endpoint.load_share(), endpoint.failures, random.random()))

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
        if generation.thinking_token_budget is not None:
            sampling["thinking_token_budget"] = generation.thinking_token_budget
        if self.config.budget_forcing == "research":
            sampling["skip_special_tokens"] = False  # as the research code's vLLM calls: `</think>` stays visible
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
        self.start_watching()
        path, payload = self.build_request(messages, generation, prefill)
        tried: set[str] = set()
        attempts: list[Attempt] = []
        for attempt in range(self.config.max_retries + 1):
            try:
                endpoint = self.pick_endpoint(tried)
            except LLMError as error:
                error.attempts = attempts
                raise
            started = time.perf_counter()
            try:
                body = await endpoint.post(path, payload)
            except LLMError as error:
                endpoint.record_failure(error)
                attempts.append(failed_attempt(endpoint.base_url, error, time.perf_counter() - started))
                if not error.retryable or attempt == self.config.max_retries:
                    error.attempts = attempts
                    raise
                tried.add(endpoint.base_url)
                if len(tried) == len(self.endpoints):
                    tried.clear()
                await asyncio.sleep(self.wait_before_retry(attempt, error))
                continue
            endpoint.record_success()
            attempts.append(Attempt(endpoint=endpoint.base_url, latency_s=time.perf_counter() - started))
            return parse_completion(body, endpoint.base_url).model_copy(update={"attempts": tuple(attempts)})
        raise AssertionError("unreachable")

    def backoff(self, attempt: int) -> float:
        base = self.config.retry_backoff_s * (2**attempt)
        return min(base, 60.0) * (0.5 + random.random() / 2)

    def wait_before_retry(self, attempt: int, error: LLMError) -> float:
        """The backoff, but never sooner than the server asked (Retry-After)."""
        asked = min(error.retry_after_s, LONGEST_RETRY_AFTER_S) if error.retry_after_s is not None else 0.0
        return max(self.backoff(attempt), asked)

    async def aclose(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        await asyncio.gather(*(endpoint.aclose() for endpoint in self.endpoints))


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size, status.st_ino  # a rename into place changes the inode


def read_endpoints_file(path: Path) -> list[str]:
    """One base URL per line (blank lines and `#` comments skipped), each checked like base_urls."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise EndpointCheckError(f"endpoints file {path}: cannot read it ({error})") from None
    urls: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            url = check_base_url(text)
        except ValueError as error:
            raise EndpointCheckError(f"endpoints file {path}, line {number}: {error}") from None
        if url not in urls:
            urls.append(url)
    if not urls:
        raise EndpointCheckError(f"endpoints file {path}: no base URL in it")
    return urls


def failed_attempt(endpoint: str, error: LLMError, latency_s: float) -> Attempt:
    return Attempt(endpoint=endpoint, status_code=error.status_code, error_kind=error.kind, latency_s=latency_s)


def parse_completion(body: dict[str, Any], endpoint: str) -> RawCompletion:
    """The completion in an OpenAI-shaped body; any other shape is a `bad_response` (recorded, not a crash)."""
    try:
        return completion_from(body, endpoint)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise LLMError("bad_response", f"{endpoint}: unexpected response shape ({type(error).__name__})") from None


def completion_from(body: dict[str, Any], endpoint: str) -> RawCompletion:
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
