"""Markdown table and PNG plots over one or more graded run directories."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

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
            cells.append(f"{format_score(combined.mean_score)} (n={combined.runs}{errors})")
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


def plot_accuracy_vs_tokens(summaries: list[RunSummary], path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for summary in summaries:
        if summary.score is not None and summary.mean_tokens_per_problem is not None:
            axes.scatter(summary.mean_tokens_per_problem, summary.score)
            axes.annotate(
                f"{summary.task}\n{summary.model}",
                (summary.mean_tokens_per_problem, summary.score),
                fontsize=7,
            )
    axes.set_xlabel("mean tokens per problem (all agents)")
    axes.set_ylabel("score (%)")
    axes.set_title("Score vs tokens spent")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


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
        axes.annotate(f"n={len(by_rounds[count])}", (index, 1), ha="center", fontsize=8)
    axes.set_xlabel("rounds used")
    axes.set_ylabel("score (%)")
    axes.set_title("Score by number of rounds")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_tokens_by_agent(summaries: list[RunSummary], path: Path) -> None:
    import matplotlib.pyplot as plt

    agents = sorted({agent for summary in summaries for agent in summary.tokens_by_agent})
    labels = [f"{summary.task}\n{summary.model}" for summary in summaries]
    figure, axes = plt.subplots(figsize=(max(6, 1.5 * len(summaries)), 4))
    bottoms = [0.0] * len(summaries)
    for agent in agents:
        values = []
        for summary in summaries:
            usage = summary.tokens_by_agent.get(agent)
            tokens = 0 if usage is None else usage.prompt_tokens + usage.completion_tokens
            values.append(tokens / max(summary.completed, 1))
        axes.bar(labels, values, bottom=bottoms, label=agent)
        bottoms = [bottom + value for bottom, value in zip(bottoms, values, strict=True)]
    axes.set_ylabel("tokens per problem")
    axes.set_title("Tokens by agent role")
    axes.legend(fontsize=7)
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
    text += "\n## Plots\n\n" + "".join(f"![{name}]({name})\n\n" for name in plots)
    (output / "report.md").write_text(text, encoding="utf-8")
    return [output / "report.md", *written]
