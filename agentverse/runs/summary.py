"""Grade a run directory's records (never calling a model) and summarize them.

System failures (no solution: the model server failed, replies could not be parsed) are
counted apart and excluded from accuracy; a graded answer that is missing or wrong counts
as wrong. Several runs are averaged as the paper did (mean and spread over runs).
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentverse.config.loader import validate_config
from agentverse.config.schema import TaskConfig
from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.registry import get_grader
from agentverse.runs.store import RunDirectory, RunRecord

JUDGE_CACHE_FILE = "judge_cache.jsonl"
METRIC_NAMES = {
    "math": "accuracy",
    "multiple-choice": "accuracy",
    "code": "pass@1",
    "concept-coverage": "coverage",
}


def load_run_config(run_dir: RunDirectory) -> TaskConfig:
    raw = yaml.safe_load(run_dir.config_path.read_text(encoding="utf-8"))
    return validate_config(raw, str(run_dir.config_path))


async def regrade(records: list[RunRecord], kind: str, concurrency: int = 8) -> list[RunRecord]:
    """Grade every solved record again from its saved final answer."""
    grader = get_grader(kind)
    gate = asyncio.Semaphore(concurrency)

    async def grade(record: RunRecord) -> RunRecord:
        if record.status != "ok" or record.result is None:
            return record
        async with gate:
            try:
                new_grade = await grader(record.sample, record.result.final_answer or "")
            except Exception as error:
                new_grade = Grade(status=GradeStatus.ERROR, score=0.0, detail=f"grader failed: {error!r}")
        return record.model_copy(update={"grade": new_grade})

    return list(await asyncio.gather(*(grade(record) for record in records)))


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def token_totals(records: list[RunRecord]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for record in records:
        if record.result is None:
            continue
        for agent, usage in record.result.usage.items():
            entry = totals.setdefault(
                agent, {"calls": 0, "failed_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
            )
            entry["calls"] += usage.calls
            entry["failed_calls"] += usage.failed_calls
            entry["prompt_tokens"] += usage.prompt_tokens
            entry["completion_tokens"] += usage.completion_tokens
    return totals


def ceo_statistics(records: list[RunRecord]) -> dict[str, Any]:
    decisions = [decision for record in records if record.result for decision in record.result.ceo_decisions]
    events = [event for record in records if record.result for event in record.result.events]
    return {
        "decisions": len(decisions),
        "by_source": dict(Counter(decision["source"] for decision in decisions)),
        "stop": sum(decision["decision"] == "stop" for decision in decisions),
        "recruit_number": dict(Counter(str(decision["recruit_number"]) for decision in decisions)),
        "max_tokens": dict(Counter(str(decision["max_tokens"]) for decision in decisions)),
        "clamped": sum(event.kind == "ceo_clamped" for event in events),
        "fallbacks": Counter(event.detail.get("agent") for event in events if event.kind == "fallback"),
    }


def summarize(records: list[RunRecord], kind: str) -> dict[str, Any]:
    solved = [record for record in records if record.status == "ok"]
    grades = [record.grade for record in solved if record.grade is not None]
    scored = [grade for grade in grades if grade.status != GradeStatus.ERROR]
    judged = [record for record in solved if record.result and record.result.evaluator_correct is not None]
    results = [record.result for record in records if record.result is not None]
    starts = [record.finished_at - record.result.wall_time_s for record in records if record.result]
    ends = [record.finished_at for record in records if record.result]
    score = mean([grade.score for grade in scored])
    return {
        "metric": METRIC_NAMES[kind],
        "score": None if score is None else 100 * score,
        "problems": len(records),
        "solved": len(solved),
        "failed": len(records) - len(solved),
        "failures": [f"{record.sample_id}: {record.error}" for record in records if record.status != "ok"][:50],
        "grades": dict(Counter(str(grade.status) for grade in grades)),
        "grader_errors": len(grades) - len(scored),
        "evaluator_self_accuracy": None
        if not judged
        else 100 * mean([float(record.result.evaluator_correct) for record in judged]),  # type: ignore[union-attr]
        "mean_rounds": mean([float(result.rounds) for result in results]),
        "terminations": dict(Counter(result.termination for result in results)),
        "ceo": ceo_statistics(records),
        "failed_calls": sum(result.failed_calls for result in results),
        "tokens_by_agent": token_totals(records),
        "mean_tokens_per_problem": mean([float(result.total_tokens) for result in results]),
        "problem_wall_time_s": mean([result.wall_time_s for result in results]),
        "run_wall_time_s": (max(ends) - min(starts)) if ends else None,
    }


@dataclass(frozen=True)
class JudgeSettings:
    """An LLM judge, used only when the user names one (the paper's scoring protocol)."""

    model: str
    base_url: str
    api_key_env: str | None = None
    temperature: float = 0.7
    concurrency: int = 16


async def judge_records(records: list[RunRecord], settings: JudgeSettings, cache: Path) -> dict[str, Any]:
    """Judge every solved record (cached in the run directory) and compare with the rule grades."""
    from agentverse.graders.judge import LLMJudge

    solved = [record for record in records if record.status == "ok" and record.result is not None]
    gate = asyncio.Semaphore(settings.concurrency)
    async with LLMJudge(
        settings.model, settings.base_url, cache, api_key_env=settings.api_key_env, temperature=settings.temperature
    ) as judge:

        async def one(record: RunRecord) -> Grade:
            async with gate:
                return await judge.grade(record.sample, record.result.final_answer or "")  # type: ignore[union-attr]

        verdicts = await asyncio.gather(*(one(record) for record in solved))
    scored = [grade for grade in verdicts if grade.status != GradeStatus.ERROR]
    paired = [
        (record.grade.score, grade.score)
        for record, grade in zip(solved, verdicts, strict=True)
        if record.grade is not None and grade.status != GradeStatus.ERROR
    ]
    score = mean([grade.score for grade in scored])
    return {
        "model": settings.model,
        "score": None if score is None else 100 * score,
        "grades": dict(Counter(str(grade.status) for grade in verdicts)),
        "errors": len(verdicts) - len(scored),
        "agreement_with_rules": None if not paired else 100 * mean([float(a == b) for a, b in paired]),
    }


async def evaluate_run(path: Path, judge: JudgeSettings | None = None) -> dict[str, Any]:
    """Re-grade one run directory, write its summary.json, and return the summary."""
    run_dir = RunDirectory(path)
    if not run_dir.config_path.exists():
        raise FileNotFoundError(f"{path}: not a run directory (no {run_dir.config_path.name})")
    config = load_run_config(run_dir)
    records = await regrade(list(run_dir.latest_records().values()), config.task.kind)
    summary = {
        "run_dir": str(path),
        "task": config.task.name,
        "model": config.llm.model,
        **summarize(records, config.task.kind),
    }
    if judge is not None:
        summary["judge"] = await judge_records(records, judge, path / JUDGE_CACHE_FILE)
    run_dir.write_summary(summary)
    return summary


def aggregate(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Average several runs of the same benchmark (the paper reports means over runs)."""
    scores = [summary["score"] for summary in summaries if summary["score"] is not None]
    return {
        "runs": len(summaries),
        "metric": summaries[0]["metric"] if summaries else None,
        "mean_score": mean(scores),
        "stdev_score": statistics.stdev(scores) if len(scores) > 1 else 0.0,
        "scores": scores,
        "failed": sum(summary["failed"] for summary in summaries),
        "problems": sum(summary["problems"] for summary in summaries),
    }
