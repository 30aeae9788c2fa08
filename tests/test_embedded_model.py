"""One full round of the loop on the real embedded SmolLM2-135M-Instruct (CPU, real tokens)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agentverse.environments.tasksolving.environment import ProblemResult
from agentverse_command.tasksolving import main as tasksolving_main
from tests.conftest import short_embedded_task

pytestmark = pytest.mark.slow


def test_full_round_on_embedded_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace_path = tmp_path / "trace.json"
    code = tasksolving_main(
        [
            "--task",
            short_embedded_task("tasksolving/math500/smollm2", tmp_path),
            "--input",
            "What is 12 * 7? Put the answer in \\boxed{}.",
            "--max-turn",
            "1",
            "--output",
            str(trace_path),
        ]
    )
    printed = capsys.readouterr().out
    result = ProblemResult.model_validate(json.loads(trace_path.read_text()))
    assert code == (0 if result.status == "ok" else 1)
    assert result.rounds == 1
    agent_types = {call.agent_type for call in result.calls}
    assert agent_types == {"ceo", "role_assigner", "solver", "critic", "evaluator"}
    for call in result.calls:
        assert call.status in ("ok", "parse_error")  # the model answered; its text may not follow the protocol
        assert call.completion_tokens > 0 and call.content  # real tokens came back
        assert call.prompt_tokens > 50 and call.messages[-1]["role"] == "user"
        if call.status == "parse_error":
            assert call.error  # why it could not be read is kept with the raw text
    kinds = [event.kind for event in result.events]
    for kind in ("round_start", "ceo_decision", "roles", "termination"):
        assert kind in kinds
    assert result.status == "ok"
    assert ("evaluation" in kinds) or (result.termination == "solver_failed")
    usage = result.usage
    assert sum(entry.calls for entry in usage.values()) == len(result.calls)
    assert "=== round 1 ===" in printed and "=== final answer ===" in printed


async def test_concurrent_requests_share_one_batch_and_keep_their_own_limits() -> None:
    from agentverse.config.schema import EndpointConfig, GenerationConfig
    from agentverse.llms.base import LLMError
    from agentverse.llms.transformers_backend import TransformersBackend

    backend = TransformersBackend(
        EndpointConfig(backend="transformers", model="embedded:smollm2", max_concurrency=8, context_length=8192)
    )
    question = [{"role": "user", "content": "Count from one to forty in words, separated by commas."}]
    await backend.complete(question, GenerationConfig(max_tokens=1, temperature=0.0))  # load the model
    limits = [4, 9, 23]
    too_long = [{"role": "user", "content": "word " * 9000}]
    outcomes = await asyncio.gather(
        *(backend.complete(question, GenerationConfig(max_tokens=limit, temperature=0.0)) for limit in limits),
        backend.complete(too_long, GenerationConfig(max_tokens=5, temperature=0.0)),
        return_exceptions=True,
    )
    assert backend.batch_sizes == [1, 4]  # the warm-up, then all four requests in one batch
    replies, overflow = outcomes[:3], outcomes[3]
    assert isinstance(overflow, LLMError) and "exceeds the context" in str(overflow)  # only that request failed
    for limit, reply in zip(limits, replies, strict=True):
        assert not isinstance(reply, BaseException)
        assert 0 < reply.completion_tokens <= limit
        assert reply.finish_reason == ("length" if reply.completion_tokens == limit else "stop")
        assert reply.prompt_tokens == replies[0].prompt_tokens  # the padding is not counted
    # Greedy rows of one batch agree on their common prefix: the short rows are cut, not different.
    assert replies[2].text.startswith(replies[1].text.strip()[:10])
    alone = await backend.complete(question, GenerationConfig(max_tokens=9, temperature=0.0))
    assert alone.completion_tokens == replies[1].completion_tokens
    await backend.aclose()
