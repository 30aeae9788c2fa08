"""A small sweep on the real embedded SmolLM2 (CPU, in process): 2 points, 2 HumanEval problems."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from agentverse_command.sweep import main as sweep_main
from tests.conftest import short_embedded_task

pytestmark = pytest.mark.slow


def test_two_point_sweep_on_the_embedded_model(tmp_path: Path) -> None:
    spec = {
        "task": short_embedded_task("tasksolving/humaneval/smollm2", tmp_path),
        "limit": 2,
        "grid": {"environment.rule.ceo.type": ["basic", "none"], "environment.max_turn": [1]},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))  # the grid's order names the points
    out = tmp_path / "sweep"
    assert sweep_main([str(path), "--out", str(out), "--concurrency", "4"]) == 0
    with (out / "points.csv").open() as handle:
        rows = {row["system"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"type=basic__max_turn=1", "type=none__max_turn=1"}
    for row in rows.values():
        # The small model's answers are what they are; what must hold is that both points ran to an
        # end on both problems, were graded and costed.
        assert int(row["problems"]) == 2 and int(row["errors"]) == 0
        assert 0.0 <= float(row["score"]) <= 100.0 and float(row["mean_completion_tokens"]) > 0
    # Without a CEO there is no CEO call: the point costs fewer calls.
    assert float(rows["type=none__max_turn=1"]["mean_calls"]) < float(rows["type=basic__max_turn=1"]["mean_calls"])
    assert (out / "report.md").read_text().startswith("# Sweep:")
