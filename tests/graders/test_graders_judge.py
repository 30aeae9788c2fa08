"""LLM judge against a tiny OpenAI-compatible aiohttp server on 127.0.0.1 (a real socket)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from agentverse.graders.base import GradeStatus
from agentverse.graders.judge import JudgeError, LLMJudge, parse_verdict
from dataloader.base import Sample

KEY_VARIABLE = "MAS_TTS_TEST_JUDGE_KEY"


@dataclass
class FakeJudgeServer:
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    failures_left: int = 0  # answer this many requests with HTTP 503 first

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.authorizations.append(request.headers.get("Authorization", ""))
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.json_response({"error": "busy"}, status=503)
        prompt = body["messages"][0]["content"]
        student = prompt.split("Student's response:")[1]
        verdict = "Correct" if "42" in student else "Incorrect"
        text = f"The final answer is compared.\nVerdict: [{verdict}]"
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": text}}]})


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeJudgeServer]:
    fake = FakeJudgeServer()
    application = web.Application()
    application.router.add_post("/v1/chat/completions", fake.chat)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.base_url = f"http://127.0.0.1:{port}/v1"
    yield fake
    await runner.cleanup()


def make_judge(server: FakeJudgeServer, cache_path: Path, **options: Any) -> LLMJudge:
    return LLMJudge(
        model="judge-model", base_url=server.base_url, cache_path=cache_path, api_key_env=KEY_VARIABLE, **options
    )


SAMPLE = Sample(id="q1", input="What is 6 * 7?", target="42")


@pytest.mark.asyncio
async def test_a_judged_grade_is_cached_and_regrading_makes_no_request(
    server: FakeJudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "sk-judge")
    cache = tmp_path / "judge.jsonl"
    async with make_judge(server, cache, temperature=0.3) as judge:
        correct = await judge.grade(SAMPLE, r"<think>hmm</think>It is \boxed{42}")
        wrong = await judge.grade(SAMPLE, r"It is \boxed{41}")
    assert (correct.status, correct.score, correct.extracted) == (GradeStatus.CORRECT, 1.0, "42")
    assert wrong.status == GradeStatus.INCORRECT
    assert len(server.requests) == 2
    assert server.requests[0]["model"] == "judge-model"
    assert server.requests[0]["temperature"] == 0.3
    assert "hmm" not in server.requests[0]["messages"][0]["content"]  # reasoning is not judged
    assert server.authorizations == ["Bearer sk-judge"] * 2
    assert len(cache.read_text().splitlines()) == 2

    # A new judge (a later re-grading run) reads the cache file: zero requests.
    async with make_judge(server, cache) as regrader:
        again = await regrader.grade(SAMPLE, r"<think>other thoughts</think>It is \boxed{42}")
        wrong_again = await regrader.grade(SAMPLE, r"It is \boxed{41}")
    assert again.status == GradeStatus.CORRECT and wrong_again.status == GradeStatus.INCORRECT
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_a_different_judge_model_is_a_different_cache_entry(
    server: FakeJudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "sk-judge")
    cache = tmp_path / "judge.jsonl"
    async with make_judge(server, cache) as judge:
        await judge.grade(SAMPLE, r"\boxed{42}")
    async with LLMJudge("other-model", server.base_url, cache, api_key_env=KEY_VARIABLE) as other:
        await other.grade(SAMPLE, r"\boxed{42}")
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_transient_errors_are_retried(
    server: FakeJudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "sk-judge")
    monkeypatch.setattr("agentverse.graders.judge.asyncio.sleep", _no_sleep)
    server.failures_left = 2
    async with make_judge(server, tmp_path / "judge.jsonl") as judge:
        grade = await judge.grade(SAMPLE, r"\boxed{42}")
    assert grade.status == GradeStatus.CORRECT
    assert len(server.requests) == 3


@pytest.mark.asyncio
async def test_a_judge_that_stays_down_is_an_error_not_a_wrong_answer(
    server: FakeJudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "sk-judge")
    monkeypatch.setattr("agentverse.graders.judge.asyncio.sleep", _no_sleep)
    server.failures_left = 10
    cache = tmp_path / "judge.jsonl"
    async with make_judge(server, cache, max_retries=1) as judge:
        grade = await judge.grade(SAMPLE, r"\boxed{42}")
    assert grade.status == GradeStatus.ERROR
    assert "HTTP 503" in grade.detail
    assert not cache.exists()  # errors are never cached


async def _no_sleep(seconds: float) -> None:
    return None


def test_the_key_is_read_when_the_judge_is_constructed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    with pytest.raises(JudgeError, match=KEY_VARIABLE):
        LLMJudge("judge-model", "http://127.0.0.1:9", tmp_path / "cache.jsonl", api_key_env=KEY_VARIABLE)


def test_a_half_written_cache_line_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "judge.jsonl"
    cache.write_text(json.dumps({"key": "abc", "correct": True}) + "\n" + '{"key": "def", "corr')
    judge = LLMJudge("judge-model", "http://127.0.0.1:9", cache)
    assert judge._load_cache() == {"abc": True}


VERDICT_CASES = [
    ("Reasoning.\nVerdict: [Correct]", True),
    ("Verdict: [Incorrect]", False),
    ("verdict: correct", True),
    ("Verdict: [Correct]\nOn second thought\nVerdict: [Incorrect]", False),
]


@pytest.mark.parametrize(("reply", "expected"), VERDICT_CASES)
def test_parse_verdict(reply: str, expected: bool) -> None:
    assert parse_verdict(reply) is expected


def test_a_reply_without_a_verdict_raises() -> None:
    with pytest.raises(JudgeError, match="no verdict"):
        parse_verdict("I think it is right.")
