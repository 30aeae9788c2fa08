"""Markdown table and PNG plots over one or more graded run directories."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Literal

from agentverse.environments.tasksolving.environment import completion_shares
from agentverse.runs.paper import BENCHMARKS, TABLE1
from agentverse.runs.store import RunDirectory, RunRecord
from agentverse.runs.summary import RunSummary, aggregate


def row_label(summary: RunSummary) -> str:
    return f"{summary.model} ({summary.mode})"


def format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown_table(groups: dict[str, dict[str, list[RunSummary]]]) -> str:
    """Our rows (mean over runs, with the run count) above the paper's Table 1."""
    header = "| model | " + " | ".join(BENCHMARKS) + " |"
    lines = [header, "|" + "---|" * (len(BENCHMARKS) + 1)]
    for label, by_task in sorted(groups.items()):
        cells = []
        for benchmark in BENCHMARKS:
            summaries = by_task.get(benchmark)
            if not summaries:
                cells.append("-")
                continue
            combined = aggregate(summaries)
            errors = f", {combined.errors} errors" if combined.errors else ""
            spread = f" ± {combined.standard_error:.1f}" if combined.mean_score is not None else ""
            cells.append(f"{format_score(combined.mean_score)}{spread} (n={combined.runs}{errors})")
        lines.append(f"| **{label}** (this run) | " + " | ".join(cells) + " |")
    for model, scores in TABLE1.items():
        lines.append(f"| {model} (paper) | " + " | ".join(f"{scores[name]:.1f}" for name in BENCHMARKS) + " |")
    return "\n".join(lines) + "\n"


def format_cell(value: object) -> str:
    return format_score(value) if value is None or isinstance(value, float) else str(value)


DETAIL_COLUMNS = [
    ("run", "run_dir"),
    ("task", "task"),
    ("metric", "metric"),
    ("score", "score"),
    ("± SE", "standard_error"),
    ("problems", "problems"),
    ("completed", "completed"),
    ("no answer", "no_answer"),
    ("errors", "errors"),
    ("evaluator self-acc", "evaluator_self_accuracy"),
    ("mean rounds", "mean_rounds"),
    ("tokens/problem", "mean_tokens_per_problem"),
]


def details_table(summaries: list[RunSummary]) -> str:
    lines = [
        "| " + " | ".join(title for title, _ in DETAIL_COLUMNS) + " |",
        "|" + "---|" * len(DETAIL_COLUMNS),
    ]
    for summary in summaries:
        cells = [getattr(summary, key) for _, key in DETAIL_COLUMNS]
        lines.append(
            "| " + " | ".join(format_score(cell) if isinstance(cell, float) else str(cell) for cell in cells) + " |"
        )
    return "\n".join(lines) + "\n"


def panels(summaries: list[RunSummary]) -> dict[tuple[str, str], list[RunSummary]]:
    """The runs by (benchmark, model): one panel each."""
    grouped: dict[tuple[str, str], list[RunSummary]] = defaultdict(list)
    for summary in summaries:
        grouped[(summary.task, summary.model)].append(summary)
    return dict(sorted(grouped.items()))


def plot_accuracy_vs_tokens(summaries: list[RunSummary], path: Path) -> None:
    """One panel per benchmark and model: each run's score (± its standard error) against its
    mean tokens per problem, `n=` its completed problems; the paper's Table 1 as reference lines."""
    import matplotlib.pyplot as plt

    grouped = panels(summaries)
    columns = min(3, max(1, len(grouped)))
    rows = (len(grouped) + columns - 1) // columns
    figure, grid = plt.subplots(rows, columns, figsize=(5 * columns, 3.8 * rows), squeeze=False)
    for axes, ((task, model), runs) in zip(grid.flat, grouped.items(), strict=False):
        for summary in runs:
            if summary.score is None or summary.mean_tokens_per_problem is None:
                continue
            axes.errorbar(
                summary.mean_tokens_per_problem,
                summary.score,
                yerr=summary.standard_error or 0.0,
                fmt="o",
                capsize=3,
                label=summary.mode,
            )
            axes.annotate(
                f"n={summary.completed}",
                (summary.mean_tokens_per_problem, summary.score),
                textcoords="offset points",
                xytext=(5, 5),
                fontsize=8,
            )
        for paper_model, scores in TABLE1.items():
            if task in scores and paper_model.startswith("M1-32B"):  # the paper's own rows, as references
                axes.axhline(scores[task], linestyle=":", linewidth=0.8, color="grey")
                axes.annotate(
                    f"{paper_model} (paper)",
                    (0, scores[task]),
                    xycoords=("axes fraction", "data"),
                    fontsize=6,
                    color="grey",
                    va="bottom",
                )
        axes.set(
            title=f"{task} / {model}", xlabel="mean tokens per problem (all agents)", ylabel="score (%)", ylim=(0, 100)
        )
    for axes in list(grid.flat)[len(grouped) :]:
        axes.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def usage_table(summaries: list[RunSummary], by: Literal["model", "endpoint", "agent"]) -> str:
    """Calls, failures, tokens and latency per model (or endpoint, or role) and run, with each one's
    share of the completions (what a smaller model for a role would take off the large one)."""
    lines = [
        f"| run | {by} | calls | failed | prompt tokens | completion tokens | share of completions | mean latency |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for summary in summaries:
        splits = {"model": summary.tokens_by_model, "endpoint": summary.tokens_by_endpoint}
        split = splits.get(by, summary.tokens_by_agent)
        shares = completion_shares(split)
        for name, usage in split.items():
            latency = "-" if usage.mean_latency_s is None else f"{usage.mean_latency_s:.2f} s"
            lines.append(
                f"| {summary.run_dir} | {name} | {usage.calls:,} | {usage.failed_calls:,} | {usage.prompt_tokens:,} | "
                f"{usage.completion_tokens:,} | {shares[name]:.1f}% | {latency} |"
            )
    return "\n".join(lines) + "\n"


def plot_accuracy_vs_rounds(records: list[RunRecord], path: Path) -> None:
    import matplotlib.pyplot as plt

    by_rounds: dict[int, list[float]] = defaultdict(list)
    for record in records:
        if record.result is not None and record.grade is not None:
            by_rounds[record.result.rounds].append(record.grade.score)
    rounds = sorted(by_rounds)
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.bar(
        [str(count) for count in rounds],
        [100 * sum(by_rounds[count]) / len(by_rounds[count]) for count in rounds],
    )
    for index, count in enumerate(rounds):
        height = 100 * sum(by_rounds[count]) / len(by_rounds[count])
        axes.annotate(f"n={len(by_rounds[count])}", (index, min(height + 2, 95)), ha="center", fontsize=8)
    axes.set_xlabel("rounds used")
    axes.set_ylabel("score (%)")
    axes.set_ylim(0, 100)
    axes.set_title("Score by number of rounds")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_tokens_by_agent(summaries: list[RunSummary], path: Path) -> None:
    """Tokens per completed problem by agent role, completion (solid) and prompt (hatched) apart."""
    import matplotlib.pyplot as plt

    agents = sorted({agent for summary in summaries for agent in summary.tokens_by_agent})
    labels = [f"{summary.task}\n{summary.model}" for summary in summaries]
    figure, axes = plt.subplots(figsize=(max(6, 1.5 * len(summaries)), 4))
    bottoms = [0.0] * len(summaries)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for position, agent in enumerate(agents):
        color = colors[position % len(colors)]
        for part, hatch in (("completion_tokens", None), ("prompt_tokens", "//")):
            values = []
            for summary in summaries:
                usage = summary.tokens_by_agent.get(agent)
                values.append((0 if usage is None else getattr(usage, part)) / max(summary.completed, 1))
            label = f"{agent} {part.split('_')[0]}"
            axes.bar(
                labels,
                values,
                bottom=bottoms,
                label=label,
                color=color,
                hatch=hatch,
                alpha=1.0 if hatch is None else 0.5,
            )
            bottoms = [bottom + value for bottom, value in zip(bottoms, values, strict=True)]
    axes.set_ylabel("tokens per problem")
    axes.set_title("Tokens by agent role: completion (solid) and prompt (hatched)")
    axes.legend(fontsize=6, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_ceo_budgets(summaries: list[RunSummary], path: Path) -> None:
    import matplotlib.pyplot as plt

    budgets: dict[str, int] = defaultdict(int)
    recruits: dict[str, int] = defaultdict(int)
    for summary in summaries:
        for budget, count in summary.ceo.max_tokens.items():
            budgets[budget] += count
        for number, count in summary.ceo.recruit_number.items():
            recruits[number] += count
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    budget_keys = sorted(budgets, key=lambda key: (key == "None", int(key) if key.isdigit() else 0))
    left.bar(budget_keys, [budgets[key] for key in budget_keys])
    left.set_title("CEO token budgets")
    left.set_xlabel("max_tokens (None = configured default)")
    recruit_keys = sorted(recruits)
    right.bar(recruit_keys, [recruits[key] for key in recruit_keys])
    right.set_title("CEO recruit numbers")
    right.set_xlabel("agents (solver included)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_report(summaries: list[RunSummary], run_paths: list[Path], output: Path) -> list[Path]:
    """Write report.md and the plots into `output`; return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    output.mkdir(parents=True, exist_ok=True)
    groups: dict[str, dict[str, list[RunSummary]]] = defaultdict(lambda: defaultdict(list))
    records: list[RunRecord] = []
    for summary, path in zip(summaries, run_paths, strict=True):
        run_dir = RunDirectory(path)
        run_records, _ = run_dir.slice_records(run_dir.read_slice())
        groups[row_label(summary)][summary.task].append(summary)
        records.extend(record for record in run_records if record.status == "ok")  # streamed
    plots = {
        "accuracy_vs_tokens.png": lambda target: plot_accuracy_vs_tokens(summaries, target),
        "accuracy_vs_rounds.png": lambda target: plot_accuracy_vs_rounds(records, target),
        "tokens_by_agent.png": lambda target: plot_tokens_by_agent(summaries, target),
        "ceo_budgets.png": lambda target: plot_ceo_budgets(summaries, target),
    }
    written = []
    for name, draw in plots.items():
        draw(output / name)
        written.append(output / name)
    text = "# MAS-TTS results\n\n## Scores next to the paper's Table 1\n\n" + markdown_table(groups)
    text += "\n## Runs\n\n" + details_table(summaries)
    text += "\n## Tokens by role\n\n" + usage_table(summaries, "agent")
    text += "\n## Tokens by model\n\n" + usage_table(summaries, "model")
    if any(len(summary.tokens_by_endpoint) > 1 for summary in summaries):  # a mixed team
        text += "\n## Tokens by endpoint\n\n" + usage_table(summaries, "endpoint")
    text += "\n## Plots\n\n" + "".join(f"![{name}]({name})\n\n" for name in plots)
    (output / "report.md").write_text(text, encoding="utf-8")
    return [output / "report.md", *written]
