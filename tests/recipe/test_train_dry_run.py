"""Fast tests of run/train.sh --dry-run: the paper's values, overrides, launch variables, resume, secrets.

They need bash and a Python with PyYAML (this test's interpreter), not the training venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = REPO_ROOT / "run" / "train.sh"
FAKE_TOKEN = "hf_FakeDryRunToken0123456789abcdef"


@dataclass
class DryRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def command(self) -> str:
        return next(line for line in self.stdout.splitlines() if line.startswith("[train.sh] command:"))

    @property
    def config(self) -> dict[str, Any]:
        marker = "[train.sh] resolved config ("
        text = self.stdout[self.stdout.index(marker) :]
        return yaml.safe_load(text.split("\n", 1)[1])


def dry_run(*arguments: str, tmp_path: Path, **environment: str) -> DryRun:
    # A clean environment: no SLURM_*, NNODES or overrides leak in from the machine running the tests.
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "TRAIN_PYTHON": sys.executable,
        "TRAIN_VENV": str(tmp_path / "no-venv"),
        "OUTPUT_DIR": str(tmp_path / "output"),
        "HF_TOKEN": FAKE_TOKEN,
        **environment,
    }
    completed = subprocess.run(
        ["bash", str(TRAIN_SCRIPT), "--dry-run", *arguments],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return DryRun(completed.returncode, completed.stdout, completed.stderr)


PAPER_VALUES = {
    "model_name_or_path": "Qwen/Qwen2.5-32B-Instruct",
    "stage": "sft",
    "finetuning_type": "full",
    "template": "qwen",
    "dataset": "m500",
    "cutoff_len": 32768,
    "learning_rate": 1e-5,
    "weight_decay": 1e-4,
    "num_train_epochs": 5.0,
    "lr_scheduler_type": "cosine",
    "warmup_ratio": 0.05,
    "per_device_train_batch_size": 1,
    "gradient_accumulation_steps": 2,
    "bf16": True,
    "flash_attn": "fa2",
    "deepspeed": "LLaMA-Factory/examples/deepspeed/ds_z3_offload_config.json",
    "report_to": "none",
    "plot_loss": True,
    "overwrite_output_dir": False,
}


def test_dry_run_prints_the_papers_values_and_writes_nothing(tmp_path: Path) -> None:
    result = dry_run(tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    config = result.config
    for key, value in PAPER_VALUES.items():
        assert config[key] == value, key
    assert config["save_steps"] > 0 and config["save_total_limit"] > 0
    assert "resume_from_checkpoint" not in config
    assert result.command.endswith(f"llamafactory-cli train {tmp_path}/output/train_config.yaml")
    assert not (tmp_path / "output").exists()


def test_deepspeed_configs_are_valid_zero3_with_auto_values() -> None:
    for name, offloaded in [("ds_z3_config.json", False), ("ds_z3_offload_config.json", True)]:
        config = json.loads((REPO_ROOT / "LLaMA-Factory" / "examples" / "deepspeed" / name).read_text())
        zero = config["zero_optimization"]
        assert zero["stage"] == 3
        assert config["train_micro_batch_size_per_gpu"] == "auto"
        assert config["gradient_accumulation_steps"] == "auto"
        assert config["bf16"]["enabled"] == "auto"
        assert zero["stage3_gather_16bit_weights_on_model_save"] is True
        assert ("offload_optimizer" in zero and "offload_param" in zero) is offloaded


def test_environment_and_argument_overrides(tmp_path: Path) -> None:
    result = dry_run(
        "save_steps=7",
        "num_train_epochs=2",
        tmp_path=tmp_path,
        LEARNING_RATE="2e-5",
        CUTOFF_LEN="4096",
        DEEPSPEED="z3",
        BF16="false",
        MODEL_PATH="/models/qwen",
        NUM_TRAIN_EPOCHS="3",
    )
    assert result.returncode == 0, result.stderr
    config = result.config
    assert config["learning_rate"] == 2e-5
    assert config["cutoff_len"] == 4096
    assert config["deepspeed"] == "LLaMA-Factory/examples/deepspeed/ds_z3_config.json"
    assert config["bf16"] is False
    assert config["model_name_or_path"] == "/models/qwen"
    assert config["save_steps"] == 7
    assert config["num_train_epochs"] == 2  # a key=value argument beats the environment
    assert config["weight_decay"] == 1e-4  # untouched values stay the paper's


def test_deepspeed_none_removes_the_key_and_bad_values_fail(tmp_path: Path) -> None:
    assert "deepspeed" not in dry_run(tmp_path=tmp_path, DEEPSPEED="none").config
    result = dry_run(tmp_path=tmp_path, DEEPSPEED="z2")
    assert result.returncode == 2 and "DEEPSPEED must be" in result.stderr


def test_wandb_only_when_a_project_is_set(tmp_path: Path) -> None:
    assert dry_run(tmp_path=tmp_path).config["report_to"] == "none"
    assert dry_run(tmp_path=tmp_path, WANDB_PROJECT="m1-sft").config["report_to"] == "wandb"


def test_multi_node_variables_reach_the_command(tmp_path: Path) -> None:
    result = dry_run(tmp_path=tmp_path, NNODES="2", NODE_RANK="1", MASTER_ADDR="10.1.2.3", NPROC_PER_NODE="8")
    assert result.returncode == 0, result.stderr
    for part in ["FORCE_TORCHRUN=1", "NNODES=2", "NODE_RANK=1", "MASTER_ADDR=10.1.2.3", "MASTER_PORT=29500"]:
        assert part in result.command
    assert "NPROC_PER_NODE=8" in result.command


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"NNODES": "2", "NODE_RANK": "1"}, "needs MASTER_ADDR"),
        ({"NNODES": "2", "NODE_RANK": "2", "MASTER_ADDR": "h"}, "must be below NNODES"),
        ({"NNODES": "two"}, "must be integers"),
    ],
)
def test_bad_multi_node_settings_fail(tmp_path: Path, environment: dict[str, str], message: str) -> None:
    result = dry_run(tmp_path=tmp_path, **environment)
    assert result.returncode == 2 and message in result.stderr


SLURM = {
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NUM_NODES": "4",
    "SLURM_NODEID": "3",
    "SLURM_JOB_NODELIST": "gpu[07-09,12]",
    "SLURM_GPUS_ON_NODE": "8",
    "SLURM_NTASKS": "4",
}


def _fake_scontrol(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text('#!/usr/bin/env bash\nprintf "gpu07\\ngpu08\\ngpu09\\ngpu12\\n"\n')
    scontrol.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_slurm_variables_are_derived(tmp_path: Path) -> None:
    result = dry_run(tmp_path=tmp_path, PATH=_fake_scontrol(tmp_path), **SLURM)
    assert result.returncode == 0, result.stderr
    for part in ["NNODES=4", "NODE_RANK=3", "MASTER_ADDR=gpu07", "MASTER_PORT=24242", "NPROC_PER_NODE=8"]:
        assert part in result.command


@pytest.mark.skipif(shutil.which("scontrol") is not None, reason="a real scontrol is on PATH")
def test_slurm_nodelist_parsed_without_scontrol(tmp_path: Path) -> None:
    result = dry_run(tmp_path=tmp_path, **(SLURM | {"SLURM_GPUS_ON_NODE": "", "SLURM_GPUS_PER_NODE": "a100:4"}))
    assert result.returncode == 0, result.stderr
    assert "MASTER_ADDR=gpu07" in result.command and "NPROC_PER_NODE=4" in result.command


def test_explicit_variables_beat_slurm_and_one_task_per_node_is_required(tmp_path: Path) -> None:
    path = _fake_scontrol(tmp_path)
    result = dry_run(tmp_path=tmp_path, PATH=path, MASTER_ADDR="head", MASTER_PORT="1234", **SLURM)
    assert "MASTER_ADDR=head" in result.command and "MASTER_PORT=1234" in result.command
    result = dry_run(tmp_path=tmp_path, PATH=path, **(SLURM | {"SLURM_NTASKS": "32"}))
    assert result.returncode == 2 and "one task per node" in result.stderr


def _make_checkpoint(output_dir: Path, step: int, complete: bool = True) -> Path:
    checkpoint = output_dir / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True)
    if complete:
        (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return checkpoint


def test_resume_picks_the_last_complete_checkpoint(tmp_path: Path) -> None:
    output_dir = tmp_path / "output"
    _make_checkpoint(output_dir, 2)
    expected = _make_checkpoint(output_dir, 10)
    _make_checkpoint(output_dir, 12, complete=False)  # interrupted while saving
    result = dry_run("overwrite_output_dir=true", tmp_path=tmp_path)
    assert result.config["resume_from_checkpoint"] == str(expected)
    assert result.config["overwrite_output_dir"] is False
    assert "resuming from" in result.stderr


def test_resume_never_and_explicit_path(tmp_path: Path) -> None:
    _make_checkpoint(tmp_path / "output", 4)
    never = dry_run(tmp_path=tmp_path, RESUME="never").config
    assert "resume_from_checkpoint" not in never and never["overwrite_output_dir"] is True
    explicit = dry_run(tmp_path=tmp_path, RESUME="/elsewhere/checkpoint-9").config
    assert explicit["resume_from_checkpoint"] == "/elsewhere/checkpoint-9"


def test_secrets_are_refused_and_never_printed(tmp_path: Path) -> None:
    result = dry_run(f"hf_hub_token={FAKE_TOKEN}", tmp_path=tmp_path)
    assert result.returncode == 2 and "hf_hub_token" in result.stderr
    result = dry_run(f"run_name=x-{FAKE_TOKEN}", tmp_path=tmp_path)
    assert result.returncode == 2 and "credential" in result.stderr
    for outcome in [result, dry_run(tmp_path=tmp_path)]:
        assert FAKE_TOKEN not in outcome.stdout + outcome.stderr


def test_bad_inputs_fail_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    result = dry_run(f"--config={listed}", tmp_path=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    expected = f"[train.sh] error: {listed}: the top level must be a mapping of LLaMA-Factory arguments, not a list"
    assert result.stderr == expected + "\n"
    result = dry_run(f"={FAKE_TOKEN}", tmp_path=tmp_path)
    assert result.returncode == 2 and "override without a key" in result.stderr
    assert FAKE_TOKEN not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_option_like_overrides_reach_the_config(tmp_path: Path) -> None:
    result = dry_run("--odd=kept", "run_name=-dash", tmp_path=tmp_path, RESUME="-weird")
    assert result.returncode == 0, result.stderr
    assert result.config["--odd"] == "kept" and result.config["run_name"] == "-dash"
    assert result.config["resume_from_checkpoint"] == "-weird"


def test_smoke_dry_run(tmp_path: Path) -> None:
    result = dry_run("--smoke", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    config = result.config
    assert config["template"] == "smollm2"
    assert config["bf16"] is False and config["max_steps"] == 3 and config["save_steps"] == 3
    assert config["model_name_or_path"] == ".cache/smollm2-hf"
    assert "deepspeed" not in config
    zero3 = dry_run(tmp_path=tmp_path, SMOKE="1", DEEPSPEED="z3", FORCE_TORCHRUN="1", NPROC_PER_NODE="1")
    assert zero3.config["deepspeed"].endswith("ds_z3_config.json")
    assert "FORCE_TORCHRUN=1" in zero3.command


def test_unknown_argument_and_help(tmp_path: Path) -> None:
    assert dry_run("--bogus", tmp_path=tmp_path).returncode == 2
    completed = subprocess.run(["bash", str(TRAIN_SCRIPT), "--help"], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0 and "Usage: bash run/train.sh" in completed.stdout


def test_missing_flash_attention_fails_before_training(tmp_path: Path) -> None:
    # Not a dry run: llamafactory-cli is `true`, and this interpreter has no flash_attn package.
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "TRAIN_PYTHON": sys.executable,
        "TRAIN_VENV": str(tmp_path / "no-venv"),
        "LLAMAFACTORY_CLI": "true",
        "OUTPUT_DIR": str(tmp_path / "output"),
    }
    completed = subprocess.run(["bash", str(TRAIN_SCRIPT)], env=environment, capture_output=True, text=True, timeout=60)
    if completed.returncode == 0:
        pytest.skip("flash_attn imports in this interpreter")
    assert completed.returncode == 2 and "FLASH_ATTN=sdpa" in completed.stderr
    assert not (tmp_path / "output").exists()
