"""Paper-exact mode: the research-format config, imported and run against a server that replays the
research code's recorded dialogues, sends call for call the requests the research code sent.

The fixtures (tests/fixtures/research_format/) are the team's reference: a research-format config
written in our own words, and the requests the research code itself sent with it to a scripted
server (API path, local m1-32b path, budget forcing, critics that never agree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentverse.config.schema import EndpointConfig, GenerationConfig
from agentverse.llms.client import LLMClient
from agentverse.testing.fake_server import FakeOpenAIServer, FakeReply
from agentverse.testing.replay import TranscriptReplay, replay

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "research_format"
CONFIG = FIXTURES / "math500_config.yaml"
PROBLEMS = FIXTURES / "math_problems_1.jsonl"


@pytest.mark.parametrize(
    ("transcript", "layout", "calls"),
    [
        ("api_2rounds", "api", 13),
        ("local_m1_2rounds", "local", 13),
        ("local_m1_budget_forcing", "local", 6),
        ("api_never_agree", "api", 26),
    ],
)
async def test_imported_config_reproduces_the_research_requests(transcript: str, layout: str, calls: int) -> None:
    result = await replay(CONFIG, FIXTURES / f"{transcript}.jsonl", PROBLEMS, benchmark="math500", layout=layout)
    assert len(result.expected) == calls
    assert len(result.comparisons) == calls and result.extra_requests == 0, result.summary()
    assert result.identical == calls, result.summary()
    assert result.roles_match, result.summary()


async def test_the_wrong_layout_is_caught() -> None:
    """The comparison can fail: the API layout against the local transcript differs on every call."""
    result = await replay(CONFIG, FIXTURES / "local_m1_2rounds.jsonl", PROBLEMS, benchmark="math500", layout="api")
    assert result.identical == 0 and not result.exact
    assert "continue_final_message" in result.summary()


def test_the_local_layout_is_the_default_for_m1_32b() -> None:
    from agentverse.config.research import convert_research_config

    config = convert_research_config(CONFIG, benchmark="math500").config
    assert {agent.memory.layout for agent in config.agents} == {"research-local"}
    assert config.llm.thinking and config.llm.think_prefill == "<think>" and config.llm.budget_forcing == "research"


RESEARCH_LOCAL = EndpointConfig(
    model="m1-32b",
    thinking=True,
    think_prefill="<think>",
    budget_forcing="research",
    fit_to_context=False,
    retry_backoff_s=0.01,
)


async def forced(replies: list[FakeReply], config: EndpointConfig = RESEARCH_LOCAL) -> tuple[Any, list[Any]]:
    queue = list(replies)
    async with FakeOpenAIServer(lambda payload: queue.pop(0)) as fake:
        client = LLMClient.from_config(config.model_copy(update={"base_urls": [fake.base_url]}))
        try:
            generation = await client.generate([{"role": "user", "content": "Q"}], GenerationConfig(max_tokens=1000))
        finally:
            await client.aclose()
        return generation, [request.payload for request in fake.requests]


async def test_research_forcing_starts_200_tokens_before_the_budget() -> None:
    # 799 tokens of 1000 is below the threshold: one request, the reply kept as it is.
    generation, payloads = await forced([FakeReply("thinking</think> 7", completion_tokens=799)])
    assert len(payloads) == 1 and generation.content == "7" and not generation.forced_answer
    # 800 tokens reaches it, although the thoughts were closed: the research code forces anyway.
    generation, payloads = await forced(
        [FakeReply("thinking</think> 7", completion_tokens=800), FakeReply(" 8", completion_tokens=1)]
    )
    assert len(payloads) == 2 and generation.content == "8" and generation.forced_answer
    second = payloads[1]
    assert second["max_tokens"] == 500  # min(32768 - 1000, int(0.5 * 1000))
    assert second["messages"][-1] == {"role": "assistant", "content": "<think>thinking</think> 7</think>"}
    assert second["continue_final_message"] is True


async def test_an_empty_forced_answer_is_asked_again_with_final_answer_appended_once() -> None:
    replies = [
        FakeReply("long thoughts", completion_tokens=1000),
        FakeReply("", completion_tokens=0),
        FakeReply("", completion_tokens=0),
        FakeReply("\\boxed{3}", completion_tokens=3),
    ]
    generation, payloads = await forced(replies)
    prefixes = [payload["messages"][-1]["content"] for payload in payloads]
    assert prefixes == [
        "<think>",
        "<think>long thoughts</think>",
        "<think>long thoughts</think><Final Answer>:",
        "<think>long thoughts</think><Final Answer>:",
    ]
    assert generation.content == "\\boxed{3}" and generation.requests == 4
    assert all(payload["skip_special_tokens"] is False for payload in payloads)


async def test_only_an_empty_forced_answer_is_asked_again() -> None:
    """The research code retries while the reply is exactly empty: blanks are an answer (an empty one)."""
    replies = [FakeReply("thoughts", completion_tokens=1000), FakeReply("  ", completion_tokens=1)]
    generation, payloads = await forced(replies)
    assert len(payloads) == 2 and generation.content == ""


async def test_forced_answers_stop_after_three_retries() -> None:
    replies = [FakeReply("thoughts", completion_tokens=1000)] + [FakeReply("", completion_tokens=0)] * 4
    generation, payloads = await forced(replies)
    assert len(payloads) == 5  # the first reply, the forced answer and its 3 retries
    assert generation.content == ""


async def test_a_model_that_does_not_think_is_told_to_answer() -> None:
    config = RESEARCH_LOCAL.model_copy(update={"thinking": False})
    replies = [FakeReply("a long draft", completion_tokens=950), FakeReply(" 12", completion_tokens=2)]
    generation, payloads = await forced(replies, config)
    assert "continue_final_message" not in payloads[0]  # no <think> prefill
    assert payloads[1]["messages"][-1]["content"] == "a long draft<Final Answer>:"
    assert generation.content == "12"
    # Its empty forced answer is not asked again (the research code retries for thinking models only).
    generation, payloads = await forced([replies[0], FakeReply("", completion_tokens=0)], config)
    assert len(payloads) == 2 and generation.content == ""


async def test_research_keeps_an_unclosed_thought_whole_with_its_prefill() -> None:
    generation, _ = await forced([FakeReply("still thinking", completion_tokens=10)])
    assert generation.content == "<think>still thinking"


def test_replay_matches_concurrent_critics_in_any_order() -> None:
    entries = [
        {"call": 1, "role": "critic", "round": 1, "inner": 1, "messages": [{"role": "system", "content": "A"}]},
        {"call": 2, "role": "critic", "round": 1, "inner": 1, "messages": [{"role": "system", "content": "B"}]},
    ]
    for entry in entries:
        entry.update({"max_tokens": 5, "temperature": 0.7, "top_p": 0.95, "reply": entry["messages"][0]["content"]})
        entry["completion_tokens"] = 1
    replay_ = TranscriptReplay(entries)
    sent_b = {"messages": [{"role": "system", "content": "B"}], "max_tokens": 5, "temperature": 0.7, "top_p": 0.95}
    assert replay_(sent_b).text == "B"
    assert replay_({**sent_b, "messages": [{"role": "system", "content": "A"}]}).text == "A"
    assert replay_.identical == 2 and replay_.missing == 0


def test_the_benchmark_command_runs_an_imported_config_paper_exactly(tmp_path: Path) -> None:
    """Import with the CLI, run with agentverse-benchmark against the replaying server: every request
    is the research code's, and the problem is graded from the research dialogue's final answer."""
    import json

    from agentverse.testing.fake_server import BackgroundServer
    from agentverse_command.benchmark import main as benchmark_main
    from agentverse_command.import_config import main as import_main

    imported = tmp_path / "math500-paper.yaml"
    assert import_main([str(CONFIG), "--out", str(imported), "--benchmark", "math500"]) == 0
    responder = TranscriptReplay.from_file(FIXTURES / "local_m1_2rounds.jsonl")
    run_dir = tmp_path / "run"
    with BackgroundServer(responder, models=("m1-32b",)) as server:
        arguments = ["--task", str(imported), "--data", str(PROBLEMS), "--run-dir", str(run_dir), "--no-progress"]
        assert benchmark_main([*arguments, "--base-url", server.base_url]) == 0
    assert responder.identical == 13 and responder.missing == 0 and responder.extra_requests == 0
    (record,) = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    result = record["result"]
    assert record["status"] == "ok" and result["termination"] == "evaluator_correct" and result["rounds"] == 2
    assert "\\boxed{55}" in result["final_answer"] and record["grade"]["status"] == "correct"


async def test_server_budget_forcing_sends_one_request_with_the_thinking_budget() -> None:
    config = EndpointConfig(model="m1-32b", thinking=True, budget_forcing="server", context_length=32768)
    generation, payloads = await forced([FakeReply("thoughts</think> \\boxed{4}", completion_tokens=900)], config)
    (payload,) = payloads
    assert payload["thinking_token_budget"] == 1000 and payload["max_tokens"] == 1500  # + min(32768 - B, B / 2)
    assert payload["messages"][-1] == {"role": "assistant", "content": "<think>\n"}
    assert generation.content == "\\boxed{4}" and generation.reasoning == "thoughts" and generation.requests == 1
