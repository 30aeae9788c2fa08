"""What share of a team's tokens the CEO uses: what a smaller CEO model would take off the large one.

Runs the shipped m1-32b configs (math500, humaneval) with the paper's budgets against a fake
thinking model: every agent thinks for `fill` x its max_tokens (cut at the budget and forced to
answer when `fill` is 1), then answers with the two-round dialogue of the research transcript (the
CEO continues twice and sets the experts' budget, a critic disagrees once, the evaluator says 0 then 1).
The CEO's own max_tokens is the paper's 32000; what it gives the experts is `--expert-budget`.

    python benchmarks/bench_ceo_share.py [--fill 0.1 0.5 1.0] [--expert-budget 4096 16384]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentverse.testing.fake_server import (  # noqa: E402
    BackgroundServer,
    FakeReply,
    classify_agent,
    two_round_dialogue,
)
from agentverse_command.benchmark import main as benchmark_main  # noqa: E402
from dataloader.humaneval import from_raw, offline_records  # noqa: E402

THINK_END = "</think>\n\n"


def thinking_model(fill: float, expert_budget: int) -> Any:
    def reply(payload: dict[str, Any]) -> FakeReply:
        answer = two_round_dialogue(payload).text
        if classify_agent(payload) == "ceo":
            answer = answer.replace("### Maximum Tokens: 4096", f"### Maximum Tokens: {expert_budget}")
        last = payload["messages"][-1]
        if last["role"] == "assistant" and last["content"].endswith(THINK_END):
            return FakeReply(answer)  # the forced answer after a cut thought
        budget = int(payload["max_tokens"])
        words = max(1, round(fill * budget))
        if words >= budget:  # longer than the budget: the server cuts it (finish_reason length)
            return FakeReply(" ".join(["hmm"] * (budget + 1)))
        return FakeReply(" ".join(["hmm"] * words) + f"</think>{answer}")

    return reply


def run(task: str, data: Path, fill: float, expert_budget: int, folder: Path) -> dict[str, Any]:
    with BackgroundServer(thinking_model(fill, expert_budget), models=("m1-32b",)) as server:
        args = ["--task", task, "--data", str(data), "--run-dir", str(folder), "--base-url", server.base_url]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = benchmark_main([*args, "--no-progress"])
    if code != 0:
        raise SystemExit(f"{task}: the run failed (exit {code}); see {folder}/run.log")
    return json.loads((folder / "summary.json").read_text())


def shares(summary: dict[str, Any]) -> tuple[float, float, float]:
    usage = summary["tokens_by_agent"]
    completion = sum(entry["completion_tokens"] for entry in usage.values())
    prompt = sum(entry["prompt_tokens"] for entry in usage.values())
    ceo = usage.get("ceo", {"completion_tokens": 0, "prompt_tokens": 0})
    return 100 * ceo["completion_tokens"] / completion, 100 * ceo["prompt_tokens"] / prompt, completion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fill", type=float, nargs="+", default=[0.1, 0.5, 1.0])
    parser.add_argument("--expert-budget", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--problems", type=int, default=4, help="Problems per benchmark.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        math = folder / "math500.jsonl"
        lines = (ROOT / "tests/fixtures/data/math500.jsonl").read_text().splitlines()
        math.write_text("\n".join(lines[: args.problems]) + "\n")
        code = folder / "humaneval.jsonl"
        samples = [from_raw(record) for record in offline_records()[: args.problems]]
        code.write_text("".join(sample.model_dump_json() + "\n" for sample in samples))
        print(
            "| benchmark | expert budget | thinking fill | CEO share of completion tokens | of prompt tokens "
            "| completion tokens per problem |"
        )
        print("|---|---|---|---|---|---|")
        for name, data in (("math500", math), ("humaneval", code)):
            for budget in args.expert_budget:
                for fill in args.fill:
                    run_dir = folder / f"{name}-{budget}-{fill}"
                    summary = run(f"tasksolving/{name}/m1-32b", data, fill, budget, run_dir)
                    completion_share, prompt_share, completion = shares(summary)
                    per_problem = completion / max(1, summary["problems"])
                    print(
                        f"| {name} | {budget} | {fill:.0%} | {completion_share:.1f}% | {prompt_share:.1f}% "
                        f"| {per_problem:,.0f} |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
