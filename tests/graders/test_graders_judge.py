"""LLM judge through the shared LLM client, against the project's fake OpenAI-compatible server.

The server runs on 127.0.0.1 (a real socket), so the judge's requests go through the same
client, retry policy and key redaction as every agent's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agentverse.graders.base import GradeStatus
from agentverse.graders.judge import JudgeError, LLMJudge, parse_verdict
from agentverse.testing.fake_server import BackgroundServer, FakeOpenAIServer, FakeReply
from dataloader.base import Sample

KEY_VARIABLE = "MAS_TTS_TEST_JUDGE_KEY"
SECRET = "sk-judge-secret-4f1c9b"
SAMPLE = Sample(id="q1", input="What is 6 * 7?", target="42")


class JudgeResponder:
    """Serves the scripted failures first, in order; then judges: correct when the student's part says 42."""

    def __init__(self) -> None:
        self.failures: list[FakeReply] = []

    def __call__(self, payload: dict[str, Any]) -> FakeReply:
        if self.failures:
            return self.failures.pop(0)
        student = payload["messages"][0]["content"].split("Student's response:")[1]
        verdict = "Correct" if "42" in student else "Incorrect"
        return FakeReply(f"The final answer is compared.\nVerdict: [{verdict}]")


@pytest.fixture
def responder() -> JudgeResponder:
    return JudgeResponder()


@pytest_asyncio.fixture
async def server(responder: JudgeResponder) -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(responder) as fake:
        yield fake


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, SECRET)


def make_judge(server: FakeOpenAIServer, cache_path: Path, **options: Any) -> LLMJudge:
    options.setdefault("retry_backoff_s", 0.0)
    return LLMJudge(
        model="judge-model", base_url=server.base_url, cache_path=cache_path, api_key_env=KEY_VARIABLE, **options
    )


def payloads(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [request.payload for request in server.requests]


@pytest.mark.asyncio
async def test_a_judged_grade_is_cached_and_regrading_makes_no_request(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    cache = tmp_path / "judge.jsonl"
    async with make_judge(server, cache, temperature=0.3) as judge:
        correct = await judge.grade(SAMPLE, r"<think>hmm</think>It is \boxed{42}")
        wrong = await judge.grade(SAMPLE, r"It is \boxed{41}")
    assert (correct.status, correct.score, correct.extracted) == (GradeStatus.CORRECT, 1.0, "42")
    assert wrong.status == GradeStatus.INCORRECT
    sent = payloads(server)
    assert len(sent) == 2
    assert sent[0]["model"] == "judge-model"
    assert sent[0]["temperature"] == 0.3
    assert "hmm" not in sent[0]["messages"][0]["content"]  # reasoning is not judged
    assert sent[0]["messages"][-1]["role"] == "user"  # not a thinking model: no prefilled <think>
    assert len(cache.read_text().splitlines()) == 2

    # A new judge (a later re-grading run) reads the cache file: zero requests.
    async with make_judge(server, cache) as regrader:
        again = await regrader.grade(SAMPLE, r"<think>other thoughts</think>It is \boxed{42}")
        wrong_again = await regrader.grade(SAMPLE, r"It is \boxed{41}")
    assert again.status == GradeStatus.CORRECT and wrong_again.status == GradeStatus.INCORRECT
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_a_different_judge_model_is_a_different_cache_entry(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "judge.jsonl"
    async with make_judge(server, cache) as judge:
        await judge.grade(SAMPLE, r"\boxed{42}")
    async with LLMJudge("other-model", server.base_url, cache, api_key_env=KEY_VARIABLE) as other:
        await other.grade(SAMPLE, r"\boxed{42}")
    assert [payload["model"] for payload in payloads(server)] == ["judge-model", "other-model"]


@pytest.mark.asyncio
async def test_a_503_then_success_is_retried_after_the_servers_retry_after(
    server: FakeOpenAIServer, responder: JudgeResponder, tmp_path: Path
) -> None:
    responder.failures = [FakeReply(status=503, headers={"Retry-After": "0.3"})]
    async with make_judge(server, tmp_path / "judge.jsonl") as judge:
        grade = await judge.grade(SAMPLE, r"\boxed{42}")
    assert grade.status == GradeStatus.CORRECT
    first, second = server.requests
    assert (first.status, second.status) == (503, 200)
    assert second.started - first.finished >= 0.25  # the shared policy honours Retry-After (backoff here is 0)


@pytest.mark.asyncio
async def test_a_dropped_connection_is_retried(
    server: FakeOpenAIServer, responder: JudgeResponder, tmp_path: Path
) -> None:
    responder.failures = [FakeReply(drop_connection=True)]
    async with make_judge(server, tmp_path / "judge.jsonl") as judge:
        grade = await judge.grade(SAMPLE, r"\boxed{42}")
    assert grade.status == GradeStatus.CORRECT
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_a_judge_that_stays_down_is_an_error_not_a_wrong_answer_and_is_not_cached(
    server: FakeOpenAIServer, responder: JudgeResponder, tmp_path: Path
) -> None:
    responder.failures = [FakeReply(status=503)] * 2
    cache = tmp_path / "judge.jsonl"
    async with make_judge(server, cache, max_retries=1) as judge:
        grade = await judge.grade(SAMPLE, r"\boxed{42}")
        assert (grade.status, grade.score, grade.extracted) == (GradeStatus.ERROR, 0.0, "42")
        assert "503" in grade.detail and "2 attempt(s)" in grade.detail
        assert len(server.requests) == 2
        assert not cache.exists()  # errors are never cached

        # Once the server is back, the same response is asked again (the error was not remembered).
        recovered = await judge.grade(SAMPLE, r"\boxed{42}")
    assert recovered.status == GradeStatus.CORRECT
    assert len(server.requests) == 3
    assert len(cache.read_text().splitlines()) == 1


@pytest.mark.asyncio
async def test_a_400_is_not_retried(server: FakeOpenAIServer, responder: JudgeResponder, tmp_path: Path) -> None:
    responder.failures = [FakeReply(status=400)]
    cache = tmp_path / "judge.jsonl"
    async with make_judge(server, cache) as judge:
        grade = await judge.grade(SAMPLE, r"\boxed{42}")
    assert grade.status == GradeStatus.ERROR
    assert "400" in grade.detail
    assert len(server.requests) == 1
    assert not cache.exists()


@pytest.mark.asyncio
async def test_the_api_key_never_appears_in_a_grade_even_when_the_server_echoes_headers(
    server: FakeOpenAIServer, responder: JudgeResponder, tmp_path: Path
) -> None:
    responder.failures = [FakeReply(status=500, echo_headers=True)] * 2
    async with make_judge(server, tmp_path / "judge.jsonl", max_retries=1) as judge:
        grade = await judge.grade(SAMPLE, r"\boxed{42}")
    assert grade.status == GradeStatus.ERROR
    assert SECRET not in grade.detail and SECRET not in grade.model_dump_json()
    assert "Bearer [redacted]" in grade.detail  # the key was sent, and its value redacted from the echo


@pytest.mark.asyncio
async def test_an_unparseable_reply_is_an_error_and_is_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "judge.jsonl"
    unsure = FakeOpenAIServer(lambda payload: FakeReply("I think it is right."))
    async with unsure as fake, make_judge(fake, cache) as judge:
        grade = await judge.grade(SAMPLE, r"\boxed{42}")
    assert grade.status == GradeStatus.ERROR and "no verdict" in grade.detail
    assert not cache.exists()


def test_the_judge_works_against_a_server_on_another_event_loop(tmp_path: Path) -> None:
    async def grade_once(judge: LLMJudge) -> GradeStatus:
        async with judge:
            return (await judge.grade(SAMPLE, r"\boxed{41}")).status

    with BackgroundServer(JudgeResponder()) as background:
        status = asyncio.run(grade_once(make_judge(background, tmp_path / "judge.jsonl")))
    assert status == GradeStatus.INCORRECT
    assert len(background.requests) == 1


def test_the_key_is_read_when_the_judge_is_constructed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    with pytest.raises(JudgeError, match=KEY_VARIABLE):
        LLMJudge("judge-model", "http://127.0.0.1:9", tmp_path / "cache.jsonl", api_key_env=KEY_VARIABLE)


def test_an_invalid_base_url_is_a_judge_error(tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match="base URL"):
        LLMJudge("judge-model", "ftp://127.0.0.1:9", tmp_path / "cache.jsonl")


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
