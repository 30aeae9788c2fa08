"""Traces from generate_traces.py train through run/train.sh: the generated set is real LLaMA-Factory data.

generate_traces.py runs the loop against the fake server (correct traces only), registers the
result in a dataset_info.json, and run/train.sh (smoke mode, one plain step) trains SmolLM2 on it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from agentverse.testing.fake_server import BackgroundServer, ScriptedResponder
from tests.recipe.test_train_smoke import MODEL_DIR, TRAIN_VENV, clean_environment, train_script
from tests.runs.test_runner import RIGHT, model_args, solver_reply, write_problems
from tests.test_generate_traces import load_script

pytestmark = [
    pytest.mark.recipe,
    pytest.mark.skipif(
        not (TRAIN_VENV / "bin" / "llamafactory-cli").exists(),
        reason=f"training venv missing: run `bash scripts/setup_train_env.sh` to create {TRAIN_VENV}",
    ),
]


def test_generated_traces_train_one_step(tmp_path: Path) -> None:
    generate = load_script("generate_traces")
    data = write_problems(tmp_path / "problems.jsonl", 4)  # q0 and q2 are answered right
    dataset_dir = tmp_path / "lf"
    responder = ScriptedResponder(solver=[solver_reply], critic=["Checked. [Agree]"], evaluator=[RIGHT])
    with BackgroundServer(responder) as server:
        arguments = ["--task", "tasksolving/math500/smollm2", "--data", str(data), "--run-dir", str(tmp_path / "run")]
        arguments += ["--out", str(tmp_path / "traces.jsonl"), "--dataset-name", "generated"]
        assert generate.main([*arguments, "--dataset-dir", str(dataset_dir), *model_args(server.base_url)]) == 0
    assert "generated" in json.loads((dataset_dir / "dataset_info.json").read_text())

    output_dir = tmp_path / "output"
    environment = clean_environment() | {
        "SMOKE": "1",
        "DEEPSPEED": "none",
        "MODEL_PATH": str(MODEL_DIR),
        "DATASET": "generated",
        "DATASET_DIR": str(dataset_dir),
        "OUTPUT_DIR": str(output_dir),
        "MAX_STEPS": "1",
    }
    completed = train_script(environment)
    assert completed.returncode == 0, completed.stdout[-5000:]
    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 1
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert len(losses) == 1 and math.isfinite(losses[0]) and losses[0] > 0
    resolved = (output_dir / "train_config.yaml").read_text()
    assert "dataset: generated" in resolved and str(dataset_dir) in resolved
