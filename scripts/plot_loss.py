#!/usr/bin/env python
"""Plot the training loss of a Hugging Face Trainer / LLaMA-Factory output directory into loss.png.

The loss history is read from, in order of preference: OUTPUT_DIR/trainer_state.json (written at
the end of training; after a resume it holds the whole history), the trainer_state.json of the
newest checkpoint-N (a run that crashed), or LLaMA-Factory's trainer_log.jsonl.

Usage: python scripts/plot_loss.py OUTPUT_DIR [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


class NoLossHistory(RuntimeError):
    """The directory holds no loss values to plot."""


def _checkpoint_step(path: Path) -> int:
    suffix = path.name.removeprefix("checkpoint-")
    return int(suffix) if suffix.isdigit() else -1


def losses_from_trainer_state(path: Path) -> list[tuple[int, float]]:
    state = json.loads(path.read_text(encoding="utf-8"))
    return [
        (int(entry["step"]), float(entry["loss"]))
        for entry in state.get("log_history", [])
        if "loss" in entry and "step" in entry
    ]


def losses_from_trainer_log(path: Path) -> list[tuple[int, float]]:
    points = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry.get("loss") is not None and entry.get("current_steps") is not None:
            points.append((int(entry["current_steps"]), float(entry["loss"])))
    return points


def read_losses(output_dir: Path) -> tuple[list[tuple[int, float]], Path]:
    """(step, loss) pairs, de-duplicated by step (the last value wins), and the file they came from."""
    checkpoints = sorted(
        output_dir.glob("checkpoint-*/trainer_state.json"), key=lambda path: _checkpoint_step(path.parent)
    )
    sources = [output_dir / "trainer_state.json", *reversed(checkpoints)]
    for source in sources:
        if source.is_file():
            points = losses_from_trainer_state(source)
            if points:
                return _by_step(points), source
    log_path = output_dir / "trainer_log.jsonl"
    if log_path.is_file():
        points = losses_from_trainer_log(log_path)
        if points:
            return _by_step(points), log_path
    raise NoLossHistory(f"no loss values in {output_dir} (trainer_state.json or trainer_log.jsonl)")


def _by_step(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    return sorted(dict(points).items())


def plot(points: list[tuple[int, float]], output_path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    steps = [step for step, _ in points]
    losses = [loss for _, loss in points]
    figure, axes = pyplot.subplots(figsize=(7, 4))
    axes.plot(steps, losses, marker="o" if len(points) < 50 else None, linewidth=1)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(output_path, dpi=100)
    pyplot.close(figure)
    return output_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path, help="Trainer output directory.")
    parser.add_argument("--output", type=Path, default=None, help="PNG to write (default OUTPUT_DIR/loss.png).")
    args = parser.parse_args(argv)
    try:
        points, source = read_losses(args.output_dir)
    except NoLossHistory as error:
        parser.exit(1, f"error: {error}\n")
    non_finite = [step for step, loss in points if not math.isfinite(loss)]
    if non_finite:
        print(f"warning: non-finite loss at step(s) {non_finite}")
    output_path = plot(points, args.output or args.output_dir / "loss.png", f"{args.output_dir.name}: training loss")
    print(f"wrote {output_path} ({len(points)} points from {source.name}, last step {points[-1][0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
