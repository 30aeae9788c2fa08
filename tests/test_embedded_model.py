"""One full round of the loop on the real embedded SmolLM2-135M-Instruct (CPU, real tokens)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentverse.environments.tasksolving.environment import ProblemResult
from agentverse_command.tasksolving import main as tasksolving_main

pytestmark = pytest.mark.slow


def test_full_round_on_embedded_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace_path = tmp_path / "trace.json"
    code = tasksolving_main(
        [
            "--task",
            "tasksolving/math500/smollm2",
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
    assert ("evaluation" in kinds) or (result.status == "failed")
    usage = result.usage
    assert sum(entry.calls for entry in usage.values()) == len(result.calls)
    assert "=== round 1 ===" in printed and "=== final answer ===" in printed
