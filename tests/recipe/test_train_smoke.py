"""CPU smoke test of the training recipe: prepare_m500 + run/train.sh in smoke mode, for real.

Each mode (plain single process; DeepSpeed ZeRO-3 through torchrun) trains the embedded SmolLM2
for 3 optimizer steps, then the same command with MAX_STEPS=4 must resume from checkpoint-3.
Needs the training venv (bash scripts/setup_train_env.sh) and is selected with `-m recipe`.
prepare_m500.py and the reload check run with the training venv's python, like run/train.sh.
Set KEEP_SMOKE_OUTPUT=1 to keep the (multi-GB) checkpoints after the run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_VENV = REPO_ROOT / ".venvs" / "train"
TRAIN_PYTHON = TRAIN_VENV / "bin" / "python"
MODEL_DIR = REPO_ROOT / ".cache" / "smollm2-hf"
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "m500" / "m500_tiny.jsonl"
FAKE_TOKEN = "hf_SmokeTestFakeToken0123456789abcdef"
RUN_TIMEOUT_SECONDS = 600
# Larger files are model weights and optimizer state written by torch; the token check reads the rest.
SECRET_SCAN_LIMIT_BYTES = 64 * 1024 * 1024

pytestmark = [
    pytest.mark.recipe,
    pytest.mark.skipif(
        not (TRAIN_VENV / "bin" / "llamafactory-cli").exists(),
        reason=f"training venv missing: run `bash scripts/setup_train_env.sh` to create {TRAIN_VENV}",
    ),
]

MODES = {
    "plain": {"DEEPSPEED": "none"},
    "zero3": {"DEEPSPEED": "z3", "FORCE_TORCHRUN": "1", "NNODES": "1", "NPROC_PER_NODE": "1"},
}


@dataclass
class TrainRun:
    """One `run/train.sh` invocation: its combined log, wall time and the trainer state it left."""

    log: str
    wall_seconds: float
    trainer_state: dict[str, Any]
    train_results: dict[str, Any]


@dataclass
class SmokeRuns:
    mode: str
    output_dir: Path
    dataset_dir: Path
    first: TrainRun
    resumed: TrainRun


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if not (MODEL_DIR / "config.json").is_file():
        main_python = REPO_ROOT / ".venv" / "bin" / "python"
        converter = [str(main_python if main_python.exists() else sys.executable)]
        subprocess.run(
            [*converter, "scripts/convert_gguf_to_hf.py", str(MODEL_DIR)],
            cwd=REPO_ROOT,
            check=True,
            timeout=600,
        )
    return MODEL_DIR


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    directory = tmp_path_factory.mktemp("m500-data")
    arguments = ["--input", str(FIXTURE), "--tokenizer", str(model_dir), "--dataset-dir", str(directory)]
    completed = subprocess.run(
        [str(TRAIN_PYTHON), "scripts/prepare_m500.py", *arguments, "--cutoff-len", "512"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"HF_HUB_OFFLINE": "1", "HF_TOKEN": FAKE_TOKEN},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout)
    rows = len(FIXTURE.read_text(encoding="utf-8").splitlines())
    assert summary["conversations_written"] == 4 * rows and summary["skipped_total"] == 0
    assert summary["token_lengths"]["over_cutoff"] == 0
    return directory


def clean_environment() -> dict[str, str]:
    """This process's environment without scheduler or wandb variables that would change the run."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("SLURM_", "WANDB_"))}


def train_script(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`bash run/train.sh` with this environment; stdout and stderr combined."""
    return subprocess.run(
        ["bash", "run/train.sh"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )


def run_train(output_dir: Path, dataset_dir: Path, model_dir: Path, mode: str, max_steps: int) -> TrainRun:
    environment = (
        clean_environment()
        | MODES[mode]
        | {
            "SMOKE": "1",
            "MODEL_PATH": str(model_dir),
            "DATASET_DIR": str(dataset_dir),
            "OUTPUT_DIR": str(output_dir),
            "MAX_STEPS": str(max_steps),
            "HF_TOKEN": FAKE_TOKEN,
        }
    )
    started = time.monotonic()
    completed = train_script(environment)
    wall_seconds = time.monotonic() - started
    (output_dir.parent / f"{output_dir.name}-steps{max_steps}.log").write_text(completed.stdout, encoding="utf-8")
    assert completed.returncode == 0, completed.stdout[-5000:]
    return TrainRun(
        log=completed.stdout,
        wall_seconds=wall_seconds,
        trainer_state=json.loads((output_dir / "trainer_state.json").read_text(encoding="utf-8")),
        train_results=json.loads((output_dir / "train_results.json").read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="module", params=list(MODES))
def smoke_runs(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    dataset_dir: Path,
    model_dir: Path,
) -> Iterator[SmokeRuns]:
    mode = request.param
    output_dir = tmp_path_factory.mktemp(f"train-{mode}") / "output"
    first = run_train(output_dir, dataset_dir, model_dir, mode, max_steps=3)
    report_timings(mode, output_dir, first)
    resumed = run_train(output_dir, dataset_dir, model_dir, mode, max_steps=4)
    print(f"[smoke timings] {mode}: wall {resumed.wall_seconds:.0f} s for the resumed run (step 4)")
    yield SmokeRuns(mode, output_dir, dataset_dir, first, resumed)
    if os.environ.get("KEEP_SMOKE_OUTPUT") != "1":
        shutil.rmtree(output_dir.parent, ignore_errors=True)


def elapsed_seconds_by_step(output_dir: Path) -> dict[int, int]:
    """LLaMA-Factory's trainer_log.jsonl: elapsed time (whole seconds, H:MM:SS) at each logged step."""
    elapsed = {}
    for line in (output_dir / "trainer_log.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        hours, minutes, seconds = (int(part) for part in entry["elapsed_time"].split(":"))
        elapsed[entry["current_steps"]] = 3600 * hours + 60 * minutes + seconds
    return elapsed


def report_timings(mode: str, output_dir: Path, first: TrainRun) -> None:
    """Seconds per optimizer step from the trainer logs; steps 2-3 exclude warm-up and checkpointing."""
    elapsed = elapsed_seconds_by_step(output_dir)
    runtime = float(first.train_results["train_runtime"])
    steady = (elapsed[3] - elapsed[1]) / 2
    print(
        f"\n[smoke timings] {mode}: step 1 {elapsed[1]} s, steps 2-3 {steady:.1f} s/step, "
        f"train_runtime {runtime:.1f} s for 3 steps incl. saving checkpoint-3 ({runtime / 3:.1f} s/step); "
        f"wall {first.wall_seconds:.0f} s for the whole first run"
    )


def losses(trainer_state: dict[str, Any]) -> dict[int, float]:
    return {entry["step"]: entry["loss"] for entry in trainer_state["log_history"] if "loss" in entry}


def test_first_run_trains_three_steps_with_finite_loss(smoke_runs: SmokeRuns) -> None:
    state = smoke_runs.first.trainer_state
    assert state["global_step"] == 3
    step_losses = losses(state)
    assert sorted(step_losses) == [1, 2, 3]
    assert all(math.isfinite(value) and value > 0 for value in step_losses.values())


def test_checkpoints_and_resolved_config_are_written(smoke_runs: SmokeRuns) -> None:
    output_dir = smoke_runs.output_dir
    for step in (3, 4):
        checkpoint = output_dir / f"checkpoint-{step}"
        assert (checkpoint / "trainer_state.json").is_file()
        assert (checkpoint / "model.safetensors").is_file()
    if smoke_runs.mode == "zero3":
        assert (output_dir / "checkpoint-3" / "global_step3").is_dir()  # DeepSpeed's sharded state
    else:
        assert (output_dir / "checkpoint-3" / "optimizer.pt").is_file()
    resolved = (output_dir / "train_config.yaml").read_text(encoding="utf-8")
    assert "template: smollm2" in resolved and "max_steps: 4" in resolved
    assert ("ds_z3_config.json" in resolved) is (smoke_runs.mode == "zero3")
    assert (output_dir / "loss.png").is_file()


def test_second_run_resumes_from_the_checkpoint(smoke_runs: SmokeRuns) -> None:
    log = smoke_runs.resumed.log
    assert f"resuming from {smoke_runs.output_dir}/checkpoint-3" in log
    assert "global step 3" in log  # the Trainer's own "Resuming training from checkpoint ..." line
    assert "resume_from_checkpoint" not in smoke_runs.first.log.split("resolved config", 1)[1].split("\n[", 1)[0]
    state = smoke_runs.resumed.trainer_state
    assert state["global_step"] == 4
    step_losses = losses(state)
    assert sorted(step_losses) == [1, 2, 3, 4]
    assert {step: step_losses[step] for step in (1, 2, 3)} == losses(smoke_runs.first.trainer_state)
    logged_steps = [
        json.loads(line)["current_steps"]
        for line in (smoke_runs.output_dir / "trainer_log.jsonl").read_text(encoding="utf-8").splitlines()
        if "loss" in json.loads(line)
    ]
    assert logged_steps == [1, 2, 3, 4]  # nothing trained twice, the first run's log kept


def test_saved_model_reloads_and_generates(smoke_runs: SmokeRuns) -> None:
    script = (
        "import sys, torch\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])\n"
        "model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)\n"
        "inputs = tokenizer('What is 2 + 3?', return_tensors='pt')\n"
        "output = model.generate(**inputs, max_new_tokens=5, do_sample=False)\n"
        "print(output.shape[1] - inputs['input_ids'].shape[1])\n"
    )
    completed = subprocess.run(
        [str(TRAIN_PYTHON), "-c", script, str(smoke_runs.output_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert int(completed.stdout.strip().splitlines()[-1]) > 0


def test_no_token_in_any_written_file_or_log(smoke_runs: SmokeRuns) -> None:
    needle = FAKE_TOKEN.encode()
    scanned = 0
    for directory in (smoke_runs.output_dir.parent, smoke_runs.dataset_dir):
        for path in directory.rglob("*"):
            if path.is_file() and path.stat().st_size <= SECRET_SCAN_LIMIT_BYTES:
                assert needle not in path.read_bytes(), f"the HF token was written into {path}"
                scanned += 1
    assert scanned > 10
    assert FAKE_TOKEN not in smoke_runs.first.log + smoke_runs.resumed.log
