"""Fast tests of scripts/plot_loss.py on hand-written trainer logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "plot_loss.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_plot(output_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(output_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"MPLCONFIGDIR": str(output_dir / ".matplotlib"), "PATH": "/usr/bin:/bin"},
    )


def trainer_state(steps: list[int]) -> str:
    history = [{"step": step, "loss": 2.0 / step, "learning_rate": 1e-5} for step in steps]
    return json.dumps({"global_step": steps[-1], "log_history": [*history, {"step": steps[-1], "train_loss": 1.0}]})


def test_plots_the_final_trainer_state(tmp_path: Path) -> None:
    (tmp_path / "trainer_state.json").write_text(trainer_state([1, 2, 3, 4]))
    completed = run_plot(tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "4 points from trainer_state.json, last step 4" in completed.stdout
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_SIGNATURE)


def test_falls_back_to_the_newest_checkpoint_then_the_jsonl_log(tmp_path: Path) -> None:
    for step in (2, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(trainer_state(list(range(1, step + 1))))
    assert "last step 10" in run_plot(tmp_path).stdout

    log_only = tmp_path / "log-only"
    log_only.mkdir()
    lines = [json.dumps({"current_steps": step, "total_steps": 3, "loss": 1.5}) for step in (1, 2, 3)]
    (log_only / "trainer_log.jsonl").write_text("\n".join(lines) + "\n")
    completed = run_plot(log_only)
    assert completed.returncode == 0 and "from trainer_log.jsonl" in completed.stdout


def test_fails_clearly_without_history(tmp_path: Path) -> None:
    completed = run_plot(tmp_path)
    assert completed.returncode == 1 and "no loss values" in completed.stderr
