"""A sweep's results: points.csv, report.md and plots, from the run directories alone.

One row per system: each grid point (the MAS), its matched single agent, and self-consistency at
every k (maj@k from the first k of the largest run's samples: reused, not sampled again; pass@k
by the unbiased estimator over all of them). Scores are percentages with their standard error
over problems and a 95% bootstrap interval over problems, each problem weighed once whatever the
number of runs it completed (`agentverse.sweeps.stats`).
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agentverse.graders.base import GradeStatus
from agentverse.graders.registry import get_grader
from agentverse.graders.vote import vote
from agentverse.runs.store import RunRecord
from agentverse.sweeps.run import run_directory, run_records
from agentverse.sweeps.spec import SweepSpec, System, short_names
from agentverse.sweeps.stats import Scores, estimate, paired_bootstrap, pareto_frontier, pass_at_k


class Row(BaseModel):
    """One system's line of points.csv."""

    model_config = ConfigDict(frozen=True)

    system: str
    kind: str
    settings: dict[str, Any]
    k: int | None = None
    runs: int
    problems: int
    score: float | None  # None: no problem completed (never shown as 0)
    standard_error: float | None
    ci_low: float | None
    ci_high: float | None
    mean_completion_tokens: float
    mean_total_tokens: float
    mean_calls: float
    mean_rounds: float
    errors: int
    pass_at_k: float | None = None


class Measured(BaseModel):
    """A row and the per-problem mean scores behind it (for paired comparisons)."""

    model_config = ConfigDict(frozen=True)

    row: Row
    by_problem: dict[str, float]
    budgets: list[int] = []
    recruits: list[int] = []


def runs_of(out: Path, system: System, runs: int) -> list[dict[str, RunRecord]]:
    """Each run's latest record of every problem of its slice (not of earlier invocations)."""
    return [
        {record.sample_id: record for record in run_records(run_directory(out, system.name, run))}
        for run in range(1, runs + 1)
    ]


def score_matrix(by_run: list[dict[str, float]]) -> tuple[Scores, list[str]]:
    ids = sorted({sample_id for run in by_run for sample_id in run})
    return [[run[sample_id] for run in by_run if sample_id in run] for sample_id in ids], ids


def mean_of(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def measured(
    system: System,
    kind: str,
    by_run: list[dict[str, float]],
    costs: list[tuple[int, int, int, int]],
    errors: int,
    k: int | None = None,
    passes: float | None = None,
) -> Measured:
    """`costs`: (completion tokens, total tokens, calls, rounds) of every completed problem run."""
    scores, ids = score_matrix(by_run)
    found = estimate(scores)
    row = Row(
        system=system.name if k is None else f"{system.name} k={k}",
        kind=kind,
        settings=system.settings,
        k=k,
        runs=len(by_run),
        problems=found.problems,
        score=100 * found.mean if found.problems else None,
        standard_error=100 * found.standard_error if found.problems else None,
        ci_low=100 * found.low if found.problems else None,
        ci_high=100 * found.high if found.problems else None,
        mean_completion_tokens=mean_of([cost[0] for cost in costs]),
        mean_total_tokens=mean_of([cost[1] for cost in costs]),
        mean_calls=mean_of([cost[2] for cost in costs]),
        mean_rounds=mean_of([cost[3] for cost in costs]),
        errors=errors,
        pass_at_k=None if passes is None else 100 * passes,
    )
    return Measured(row=row, by_problem={i: statistics.fmean(r) for i, r in zip(ids, scores, strict=True) if r})


def loop_rows(system: System, records: list[dict[str, RunRecord]]) -> Measured:
    by_run: list[dict[str, float]] = []
    costs: list[tuple[int, int, int, int]] = []
    errors = 0
    budgets: list[int] = []
    recruits: list[int] = []
    for run in records:
        scores: dict[str, float] = {}
        for sample_id, record in run.items():
            if record.status != "ok" or record.result is None or record.grade is None:
                errors += 1
                continue
            scores[sample_id] = record.grade.score
            result = record.result
            costs.append((result.completion_tokens, result.total_tokens, len(result.calls), result.rounds))
            budgets += [plan.max_tokens for plan in result.ceo_decisions if plan.max_tokens is not None]
            recruits += [plan.recruit_number for plan in result.ceo_decisions if plan.source == "ceo"]
        by_run.append(scores)
    kind = "single-agent" if system.kind == "single-agent" else "mas"
    found = measured(system, kind, by_run, costs, errors)
    return found.model_copy(update={"budgets": budgets, "recruits": recruits})


def sample_texts(record: RunRecord, samples: int) -> list[str | None]:
    """The k samples' solutions in sample order (None where a sample produced none)."""
    texts: list[str | None] = [None] * samples
    assert record.result is not None
    for call in record.result.calls:
        index = int(call.agent.rsplit(" ", 1)[-1]) - 1
        if call.status == "ok" and call.parsed is not None and 0 <= index < samples:
            texts[index] = str(call.parsed.get("text", ""))
    return texts


async def consistency_rows(system: System, records: list[dict[str, RunRecord]], ks: list[int]) -> list[Measured]:
    kind = system.config.task.kind
    grader = get_grader(kind)
    samples = system.samples or max(ks)
    grades: dict[tuple[str, str], float | None] = {}

    async def score(record: RunRecord, text: str | None) -> float | None:
        """The answer's score; None where the grader could not decide (the problem is excluded)."""
        if text is None:
            return 0.0
        key = (record.sample.id, text)
        if key not in grades:
            grade = await grader(record.sample, text)
            grades[key] = None if grade.status == GradeStatus.ERROR else grade.score
        return grades[key]

    rows = []
    for k in ks:
        by_run: list[dict[str, float]] = []
        costs: list[tuple[int, int, int, int]] = []
        passes: list[float] = []
        errors = 0
        for run in records:
            scores: dict[str, float] = {}
            for sample_id, record in run.items():
                if record.status != "ok" or record.result is None:
                    errors += 1
                    continue
                texts = sample_texts(record, samples)
                chosen = vote(kind, texts[:k])
                chosen_score = await score(record, texts[chosen] if chosen is not None else None)
                sample_scores = [await score(record, text) for text in texts]
                if chosen_score is None or None in sample_scores:
                    errors += 1  # a grader that cannot decide makes the problem an error, as in a run
                    continue
                scores[sample_id] = chosen_score
                passes.append(pass_at_k(samples, sum(value == 1.0 for value in sample_scores), k))
                first = {f"Solver {index}" for index in range(1, k + 1)}
                calls = [call for call in record.result.calls if call.agent in first]
                completion = sum(call.completion_tokens for call in calls)
                total = sum(call.prompt_tokens + call.completion_tokens for call in calls)
                costs.append((completion, total, len(calls), 1))
            by_run.append(scores)
        rows.append(measured(system, f"maj@{k}", by_run, costs, errors, k=k, passes=mean_of(passes)))
    return rows


async def measure(spec: SweepSpec, out: Path, systems: list[System]) -> list[Measured]:
    found: list[Measured] = []
    for system in systems:
        records = runs_of(out, system, spec.runs)
        if system.kind == "self-consistency":
            assert spec.baselines.self_consistency is not None
            found += await consistency_rows(system, records, spec.baselines.self_consistency.k)
        else:
            found.append(loop_rows(system, records))
    return found


CSV_COLUMNS = list(Row.model_fields)


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            values = row.model_dump()
            values["settings"] = json.dumps(values["settings"], sort_keys=True)
            writer.writerow(values)


def score_text(row: Row) -> str:
    return "–" if row.score is None else f"{row.score:.1f} ± {row.standard_error or 0.0:.1f}"


def interval_text(row: Row) -> str:
    return "–" if row.ci_low is None or row.ci_high is None else f"[{row.ci_low:.1f}, {row.ci_high:.1f}]"


def pareto_rows(rows: list[Row]) -> list[Row]:
    """The rows on the frontier of score against completion tokens, among those with a score."""
    scored = [row for row in rows if row.score is not None]
    return [
        scored[index] for index in pareto_frontier([(row.mean_completion_tokens, row.score or 0.0) for row in scored])
    ]


def paired(first: Measured, second: Measured) -> tuple[float, float, int] | None:
    """(difference in points, p-value, problems) over the problems both completed."""
    common = sorted(first.by_problem.keys() & second.by_problem.keys())
    if not common:
        return None
    difference, p_value = paired_bootstrap(
        [first.by_problem[i] for i in common], [second.by_problem[i] for i in common]
    )
    return 100 * difference, p_value, len(common)


def comparisons(found: list[Measured]) -> list[str]:
    """For each MAS point: its matched single agent and the self-consistency k of nearest cost."""
    by_name = {item.row.system: item for item in found}
    consistency = [item for item in found if item.row.kind.startswith("maj@")]
    lines = [
        "| MAS point | MAS score | vs | its score | difference (points) | paired p | problems |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in found:
        if item.row.kind != "mas":
            continue
        others = [by_name.get(item.row.system + "+single-agent")]
        if consistency:
            cost = item.row.mean_completion_tokens
            others.append(min(consistency, key=lambda other: abs(other.row.mean_completion_tokens - cost)))
        for other in others:
            if other is None or (result := paired(item, other)) is None:
                continue
            difference, p_value, problems = result
            lines.append(
                f"| {item.row.system} | {score_text(item.row)} | "
                f"{other.row.system} ({other.row.mean_completion_tokens:.0f} tokens) | "
                f"{score_text(other.row)} | {difference:+.1f} | {p_value:.3f} | "
                f"{problems} |"
            )
    return lines


def markdown(spec: SweepSpec, found: list[Measured]) -> str:
    rows = [item.row for item in found]
    lines = [
        f"# Sweep: {spec.task}",
        "",
        f"{spec.runs} run(s) per system; scores in percent (the mean of each problem's mean over its runs) "
        "with the standard error over problems and a 95% bootstrap interval over problems; tokens are the "
        "server's counts per problem (completion = the matched-compute measure). maj@k uses the first k "
        "samples of the largest self-consistency run (reused, not sampled again); pass@k is the unbiased "
        "estimator over all its samples.",
        "",
        "| system | kind | score | 95% interval | completion tokens | total tokens | calls | rounds | errors "
        "| pass@k |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        passes = "-" if row.pass_at_k is None else f"{row.pass_at_k:.1f}"
        lines.append(
            f"| {row.system} | {row.kind} | {score_text(row)} | "
            f"{interval_text(row)} | {row.mean_completion_tokens:.0f} | {row.mean_total_tokens:.0f} | "
            f"{row.mean_calls:.1f} | {row.mean_rounds:.2f} | {row.errors} | {passes} |"
        )
    lines += ["", "## Matched compute", "", *comparisons(found), ""]
    choices = [item for item in found if item.budgets]
    if choices:
        lines += ["## CEO choices", "", "| point | mean budget | budgets | mean recruits |", "|---|---|---|---|"]
        for item in choices:
            counts = ", ".join(f"{budget}: {count}" for budget, count in sorted(Counter(item.budgets).items()))
            recruits = f"{mean_of([float(r) for r in item.recruits]):.2f}" if item.recruits else "-"
            lines.append(
                f"| {item.row.system} | {mean_of([float(b) for b in item.budgets]):.0f} | {counts} | {recruits} |"
            )
        lines.append("")
    lines += ["Plots: pareto.png (score vs completion tokens, with the frontier), scaling-*.png, ceo-choices.png.", ""]
    return "\n".join(lines)


def plot_pareto(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    markers = {"mas": "o", "single-agent": "s"}
    rows = [row for row in rows if row.score is not None]  # nothing completed: nothing to plot
    for row in rows:
        axes.errorbar(
            row.mean_completion_tokens,
            row.score or 0.0,
            yerr=row.standard_error or 0.0,
            fmt=markers.get(row.kind, "^"),
            capsize=3,
            label=row.system,
        )
    frontier = pareto_rows(rows)
    axes.plot(
        [row.mean_completion_tokens for row in frontier],
        [row.score or 0.0 for row in frontier],
        "k--",
        linewidth=1,
        label="Pareto frontier",
    )
    axes.set(xlabel="mean completion tokens per problem", ylabel="score (%)", ylim=(0, 100))
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_scaling(spec: SweepSpec, rows: list[Row], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = short_names(list(spec.grid))
    points = [row for row in rows if row.kind == "mas" and row.score is not None]
    written = []
    for axis, values in spec.grid.items():
        figure, axes = plt.subplots(figsize=(6, 4))
        others = sorted({json.dumps({k: v for k, v in row.settings.items() if k != axis}) for row in points})
        for other in others:
            line = [row for row in points if json.dumps({k: v for k, v in row.settings.items() if k != axis}) == other]
            positions = [values.index(row.settings[axis]) for row in line]
            axes.errorbar(
                positions,
                [row.score or 0.0 for row in line],
                yerr=[row.standard_error or 0.0 for row in line],
                marker="o",
                capsize=3,
                label=other if len(others) > 1 else None,
            )
        axes.set_xticks(range(len(values)), [str(value) for value in values])
        axes.set(xlabel=names[axis], ylabel="score (%)", ylim=(0, 100))
        if len(others) > 1:
            axes.legend(fontsize=7)
        figure.tight_layout()
        path = out / f"scaling-{names[axis]}.png"
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(path)
    return written


def plot_ceo(found: list[Measured], path: Path) -> bool:
    choices = [item for item in found if item.budgets]
    if not choices:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (budgets, recruits) = plt.subplots(1, 2, figsize=(9, 4))
    labels = [item.row.system for item in choices]
    budgets.bar(labels, [mean_of([float(b) for b in item.budgets]) for item in choices])
    budgets.set(ylabel="mean CEO budget (tokens)")
    recruits.bar(labels, [mean_of([float(r) for r in item.recruits]) for item in choices])
    recruits.set(ylabel="mean recruit number")
    for axes in (budgets, recruits):
        axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


async def write_report(spec: SweepSpec, out: Path, systems: list[System]) -> list[Row]:
    found = await measure(spec, out, systems)
    rows = [item.row for item in found]
    write_csv(rows, out / "points.csv")
    (out / "report.md").write_text(markdown(spec, found), encoding="utf-8")
    plot_pareto(rows, out / "pareto.png")
    plot_scaling(spec, rows, out)
    plot_ceo(found, out / "ceo-choices.png")
    return rows
