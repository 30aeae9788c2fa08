"""How the HTTP client fails: no key in any text, permanent errors not retried, Retry-After
honoured, every attempt recorded. Against real sockets on 127.0.0.1."""

from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path
from typing import Any

import pytest

from agentverse.config.schema import EndpointConfig, GenerationConfig
from agentverse.llms.base import LLMError
from agentverse.llms.openai_backend import OpenAIBackend, retry_after_seconds
from agentverse.testing.fake_server import BackgroundServer, FakeOpenAIServer, FakeReply, ScriptedResponder
from agentverse_command.benchmark import main as benchmark_main
from tests.runs.test_runner import TASK, model_args, write_problems

SECRET = "sk-test-0123456789abcdef-secret"
GENERATION = GenerationConfig(max_tokens=16)
MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]


def backend(base_url: str, **settings: Any) -> OpenAIBackend:
    config = EndpointConfig(
        model="fake", base_urls=[base_url], api_key_env="TEST_KEY", retry_backoff_s=0.01, **settings
    )
    return OpenAIBackend(config, environ={"TEST_KEY": SECRET})


async def failure(server: FakeOpenAIServer, **settings: Any) -> LLMError:
    client = backend(server.base_url, **settings)
    try:
        with pytest.raises(LLMError) as caught:
            await client.complete(MESSAGES, GENERATION)
    finally:
        await client.aclose()
    return caught.value


def redirect_loop(payload: dict[str, Any]) -> FakeReply:
    return FakeReply(status=307, headers={"Location": "/v1/chat/completions"})


async def test_a_redirect_loop_is_not_followed_and_the_key_stays_secret() -> None:
    async with FakeOpenAIServer(redirect_loop) as server:
        error = await failure(server)
    assert error.kind == "redirect" and not error.retryable
    assert len(server.requests) == 1  # neither followed nor retried
    assert SECRET not in str(error) and "Bearer" not in str(error)


async def test_a_server_echoing_the_headers_has_the_key_redacted() -> None:
    async with FakeOpenAIServer(lambda payload: FakeReply(status=500, echo_headers=True)) as server:
        error = await failure(server, max_retries=1)
    assert "request headers" in str(error)  # the body excerpt is kept ...
    assert SECRET not in str(error) and "[redacted]" in str(error)  # ... without the key


def test_no_record_trace_or_output_contains_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TTS_TEST_KEY", SECRET)
    data = write_problems(tmp_path / "data.jsonl", 2)
    run_dir = tmp_path / "run"

    def solver(payload: dict[str, Any]) -> FakeReply:
        return FakeReply(status=500, echo_headers=True)

    with BackgroundServer(ScriptedResponder(solver=[solver], ceo=[redirect_loop])) as server:
        arguments = ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir)]
        code = benchmark_main([*arguments, *model_args(server.base_url), "--api-key-env", "MAS_TTS_TEST_KEY"])
    assert code == 1  # every problem ended in an error
    printed = capsys.readouterr()
    assert "redirect" in (run_dir / "records.jsonl").read_text()
    for text in [printed.out, printed.err, *(path.read_text() for path in run_dir.iterdir() if path.is_file())]:
        assert SECRET not in text


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (422, False),
        (408, True),
        (409, True),
        (425, True),
        (429, True),
        (500, True),
        (503, True),
    ],
)
async def test_which_statuses_are_retried(status: int, retried: bool) -> None:
    async with FakeOpenAIServer(lambda payload: FakeReply(status=status)) as server:
        error = await failure(server, max_retries=2)
    assert error.status_code == status and error.retryable is retried
    assert len(server.requests) == (3 if retried else 1)
    assert [attempt.status_code for attempt in error.attempts] == [status] * len(server.requests)


async def test_an_invalid_host_is_not_retried() -> None:
    client = backend("http://no-such-host.invalid:8000/v1", max_retries=3)
    started = time.perf_counter()
    try:
        with pytest.raises(LLMError) as caught:
            await client.complete(MESSAGES, GENERATION)
    finally:
        await client.aclose()
    assert caught.value.kind == "dns" and len(caught.value.attempts) == 1
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("form", ["seconds", "date"])
async def test_retry_after_is_honoured(form: str) -> None:
    answered: list[float] = []

    def limited(payload: dict[str, Any]) -> FakeReply:
        answered.append(time.monotonic())
        if len(answered) > 1:
            return FakeReply("fine")
        wait = "1" if form == "seconds" else email.utils.formatdate(time.time() + 2, usegmt=True)
        return FakeReply(status=429, headers={"Retry-After": wait})

    async with FakeOpenAIServer(limited) as server:
        client = backend(server.base_url, max_retries=2)
        try:
            completion = await client.complete(MESSAGES, GENERATION)
        finally:
            await client.aclose()
    assert completion.text == "fine"
    assert answered[1] - answered[0] >= 0.95  # no sooner than asked (the backoff alone is 10 ms)
    assert [attempt.status_code for attempt in completion.attempts] == [429, None]


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds(date, now=1_000_000) == pytest.approx(30.0)
    assert retry_after_seconds(email.utils.formatdate(10, usegmt=True), now=1_000) == 0.0


async def test_call_records_list_their_attempts(tmp_path: Path) -> None:
    from agentverse.environments.tasksolving.environment import TaskSolvingEnvironment
    from agentverse.llms.client import LLMClient
    from dataloader.base import Sample
    from tests.conftest import fake_config

    responder = ScriptedResponder(solver=[FakeReply(status=502), FakeReply(status=503), "\\boxed{1}"])
    async with FakeOpenAIServer(responder) as server:
        config = fake_config(TASK, [server.base_url])
        llm = LLMClient.from_config(config.llm)
        try:
            result = await TaskSolvingEnvironment(config, llm).solve(Sample(id="a", input="1?", target="1"))
        finally:
            await llm.aclose()
    solver = next(call for call in result.calls if call.agent_type == "solver")
    assert [(attempt.status_code, attempt.error_kind) for attempt in solver.attempts] == [
        (502, "http_status"),
        (503, "http_status"),
        (None, None),
    ]
    assert all(attempt.endpoint == server.base_url and attempt.latency_s >= 0 for attempt in solver.attempts)
    assert json.loads(result.model_dump_json())["calls"][0]["attempts"][0]["error_kind"] is None
