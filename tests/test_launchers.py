"""The launchers' --dry-run: the exact vLLM / Ray / SLURM commands for each scale-out setting."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def dry_run(script: str, *args: str, **settings: str) -> str:
    environment = {**os.environ, "SERVE_DEVICE": "gpu", "SERVE_PYTHON": "python", **settings}
    done = subprocess.run(
        ["bash", script, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_one_node_data_parallel_replicas() -> None:
    command = dry_run("run/serve.sh", "--dry-run", DATA_PARALLEL_SIZE="2", TENSOR_PARALLEL_SIZE="4")
    assert "-m vllm.entrypoints.openai.api_server" in command
    assert "--data-parallel-size 2" in command and "--tensor-parallel-size 4" in command
    assert "--headless" not in command and "--enforce-eager" not in command


@pytest.mark.parametrize(("rank", "headless"), [("0", False), ("2", True)])
def test_multi_node_data_parallel_one_launch_per_node(rank: str, headless: bool) -> None:
    settings = {
        "DATA_PARALLEL_SIZE": "4",
        "DATA_PARALLEL_SIZE_LOCAL": "2",
        "DATA_PARALLEL_ADDRESS": "10.0.0.1",
        "DATA_PARALLEL_RPC_PORT": "13345",
        "DATA_PARALLEL_START_RANK": rank,
        "TENSOR_PARALLEL_SIZE": "4",
    }
    command = dry_run("run/serve.sh", "--dry-run", **settings)
    for flag in (
        "--data-parallel-size 4",
        "--data-parallel-size-local 2",
        "--data-parallel-address 10.0.0.1",
        "--data-parallel-rpc-port 13345",
        f"--data-parallel-start-rank {rank}",
    ):
        assert flag in command
    assert ("--headless" in command) is headless  # only the first node serves the API


def test_thinking_budget_enables_the_reasoning_config() -> None:
    words = shlex.split(dry_run("run/serve.sh", "--dry-run", THINKING_BUDGET="1"))  # the printed line is shell-quoted
    config = json.loads(words[words.index("--reasoning-config") + 1])
    assert config == {"reasoning_start_str": "<think>", "reasoning_end_str": "</think>"}


def test_ray_cluster_pipeline_parallel_across_nodes() -> None:
    settings = {
        "NNODES": "2",
        "GPUS_PER_NODE": "8",
        "RAY_HEAD_ADDRESS": "10.0.0.1",
        "RAY_PYTHON": "/opt/env/bin/python",
    }
    head = dry_run("run/serve_ray_cluster.sh", "head", "--dry-run", **settings)
    assert "/opt/env/bin/ray start --head --port 6379 --num-gpus 8 --block" in head
    worker = dry_run("run/serve_ray_cluster.sh", "worker", "--dry-run", **settings)
    assert "ray start --address 10.0.0.1:6379 --num-gpus 8 --block" in worker
    serve = dry_run("run/serve_ray_cluster.sh", "serve", "--dry-run", **settings)
    assert "RAY_ADDRESS=10.0.0.1:6379" in serve
    assert "--tensor-parallel-size 8" in serve and "--pipeline-parallel-size 2" in serve
    assert "--distributed-executor-backend ray" in serve


def test_slurm_starts_a_replica_per_node_and_names_the_endpoints_file() -> None:
    output = dry_run("run/slurm/serve.sbatch", "--dry-run", NODES="gpu-a gpu-b", REPLICAS_PER_NODE="2")
    launches = [shlex.split(line[1:]) for line in output.splitlines() if line.startswith("+ srun")]
    assert len(launches) == 4
    assert "--nodelist=gpu-a" in launches[0] and "CUDA_VISIBLE_DEVICES=0,1,2,3" in launches[0]
    assert "PORT=8000" in launches[0] and "PORT=8001" in launches[1] and "CUDA_VISIBLE_DEVICES=4,5,6,7" in launches[1]
    assert "--nodelist=gpu-b" in launches[2] and "TENSOR_PARALLEL_SIZE=4" in launches[3]
    assert "HOST=0.0.0.0" in launches[0] and launches[0][-1].endswith("run/serve.sh")
    pid_files = {word for launch in launches for word in launch if word.startswith("PID_FILE=")}
    assert len(pid_files) == 4  # one per replica, also on a shared filesystem
    assert "outputs/endpoints.txt" in output


def test_a_headless_node_is_not_started_in_the_background() -> None:
    environment = {**os.environ, "SERVE_DEVICE": "gpu", "DATA_PARALLEL_SIZE": "4", "DATA_PARALLEL_START_RANK": "2"}
    done = subprocess.run(
        ["bash", "run/serve.sh", "--background"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "headless" in done.stderr


def test_a_bad_parallel_size_is_named() -> None:
    environment = {**os.environ, "SERVE_DEVICE": "gpu", "DATA_PARALLEL_SIZE": "0"}
    done = subprocess.run(
        ["bash", "run/serve.sh", "--dry-run"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "DATA_PARALLEL_SIZE must be a positive whole number" in done.stderr


def test_inference_passes_the_endpoints_file_to_every_benchmark() -> None:
    output = dry_run("run/inference.sh", "--all", "--dry-run", MODEL="m1-32b", ENDPOINTS_FILE="/shared/endpoints.txt")
    benchmarks = [shlex.split(line[1:]) for line in output.splitlines() if "agentverse_command.benchmark" in line]
    assert len(benchmarks) == 6
    for words in benchmarks:
        assert words[words.index("--endpoints-file") + 1] == "/shared/endpoints.txt" and "--concurrency" not in words
    assert "agentverse_command.report" in output.splitlines()[-1]
