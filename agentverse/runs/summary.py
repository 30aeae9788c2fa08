"""Summarize a run directory from its stored grades; re-grade only when asked (never calls a model).

The summary covers exactly the run's data slice (the problems of its latest invocation):
- `completed`: problems that ran to an end; each is scored, and a model that produced no
  readable answer scores 0 (`no_answer`), so weak models are not flattered;
- `errors`: problems that ended in an infrastructure failure (or whose grader could not
  decide); excluded from the score, listed, retried on resume;
- `not_run`: problems of the slice with no record yet (an interrupted run).
Several runs are averaged as the paper did (mean and spread over runs).
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from agentverse.config.loader import validate_config
from agentverse.config.schema import TaskConfig
from agentverse.environments.tasksolving.environment import AgentUsage, ProblemResult
from agentverse.environments.tasksolving.state import RoundPlan
from agentverse.graders.base import Grade, GradeStatus
from agentverse.llms.gate import EndpointLoad
from agentverse.runs.grading import grade_result, with_grade
from agentverse.runs.store import RunDirectory, RunRecord
from agentverse.sweeps.stats import Estimate, estimate, standard_error

JUDGE_CACHE_FILE = "judge_cache.jsonl"
ERROR_MESSAGE_CHARS = 300
METRIC_NAMES = {
    "math": "accuracy",
    "multiple-choice": "accuracy",
    "code": "pass@1",
    "concept-coverage": "coverage",
}


class Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemError(Summary):
    id: str
    error: str


class EndpointAttempts(Summary):
    attempts: int = 0
    failed: int = Field(default=0, description="Attempts that failed (each was retried or ended its call).")


class CEOStatistics(Summary):
    decisions: int = 0
    by_source: dict[str, int] = Field(default_factory=dict, description="ceo / fallback / fixed")
    stop: int = 0
    recruit_number: dict[str, int] = Field(default_factory=dict)
    max_tokens: dict[str, int] = Field(default_factory=dict, description="'None': each agent's configured budget")
    clamped: int = 0
    fallbacks: dict[str, int] = Field(default_factory=dict, description="Model-failure fallbacks by agent.")


class JudgeSummary(Summary):
    model: str
    score: float | None
    grades: dict[str, int]
    errors: int
    agreement_with_rules: float | None


class RunSummary(Summary):
    """What `summary.json` holds; `agentverse-evaluate` prints it."""

    run_dir: str
    task: str
    model: str
    mode: str = "multi-agent"
    metric: str
    problems: int = Field(description="Problems in the run's data slice.")
    completed: int = Field(description="Problems that ran to an end (status ok); all are scored.")
    errors: int = Field(description="Infrastructure failures (status error): excluded from the score, retried.")
    not_run: int = Field(default=0, description="Problems of the slice with no record yet.")
    score: float | None = Field(description="Percent over completed problems; no answer counts as wrong.")
    standard_error: float | None = Field(default=None, description="Of the score, over problems (points).")
    problem_scores: dict[str, float] = Field(
        default_factory=dict, description="Each completed problem's score (for statistics over runs)."
    )
    no_answer: int = Field(description="Completed problems with no gradable answer (scored 0).")
    grades: dict[str, int]
    error_problems: list[ProblemError] = Field(default_factory=list, description="What to retry, and why.")
    evaluator_self_accuracy: float | None
    evaluator_unjudged: int = Field(default=0, description="Completed problems whose evaluator gave no verdict.")
    mean_rounds: float | None
    terminations: dict[str, int]
    ceo: CEOStatistics
    fallbacks: int = 0
    failed_calls: int
    context_overflows: int = Field(default=0, description="Calls not sent: the prompt left no room for a reply.")
    truncated_replies: int = Field(default=0, description="Replies cut by the length limit.")
    attempts_by_endpoint: dict[str, EndpointAttempts] = Field(
        default_factory=dict, description="HTTP attempts per endpoint, retries included."
    )
    tokens_by_agent: dict[str, AgentUsage] = Field(description="Every call of the slice, errors included (cost).")
    tokens_by_model: dict[str, AgentUsage] = Field(
        default_factory=dict, description="The same calls by the model asked (mixed teams)."
    )
    tokens_by_endpoint: dict[str, AgentUsage] = Field(
        default_factory=dict, description="The same calls by the task config's endpoint name (mixed teams)."
    )
    mean_tokens_per_problem: float | None = Field(description="Prompt + completion tokens, over completed problems.")
    mean_completion_tokens_per_problem: float | None = None
    problem_wall_time_s: float | None
    run_wall_time_s: float | None
    judge: JudgeSummary | None = None
    load: list[EndpointLoad] = Field(
        default_factory=list, description="Requests in flight per endpoint in the latest invocation (mean, peak)."
    )


class RunsAggregate(Summary):
    runs: int
    metric: str | None
    mean_score: float | None
    standard_error: float = Field(default=0.0, description="Of the mean score, over problems and runs (points).")
    stdev_score: float
    scores: list[float]
    errors: int
    problems: int


def load_run_config(run_dir: RunDirectory) -> TaskConfig:
    raw = yaml.safe_load(run_dir.config_path.read_text(encoding="utf-8"))
    return validate_config(raw, str(run_dir.config_path))


async def regrade(records: list[RunRecord], kind: str, concurrency: int = 8) -> list[RunRecord]:
    """Grade every record that ran to an end again from its saved final answer."""
    gate = asyncio.Semaphore(concurrency)

    async def grade(record: RunRecord) -> RunRecord:
        result = record.result
        if result is None or result.status != "ok":
            return record
        async with gate:
            return with_grade(record, await grade_result(kind, record.sample, result))

    return list(await asyncio.gather(*(grade(record) for record in records)))


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


class ResultDigest(Summary):
    """What a summary needs of a `ProblemResult`: its numbers, without the calls and events."""

    rounds: int
    termination: str
    evaluator_correct: bool | None
    ceo_decisions: list[RoundPlan]
    fallbacks: int
    fallback_agents: list[str]
    clamped: int
    failed_calls: int
    context_overflows: int
    truncated_replies: int
    usage: dict[str, AgentUsage]
    usage_by_model: dict[str, AgentUsage] = Field(default_factory=dict)
    usage_by_endpoint: dict[str, AgentUsage] = Field(default_factory=dict)
    attempts: dict[str, EndpointAttempts]
    wall_time_s: float
    total_tokens: int
    completion_tokens: int


class CompactRecord(Summary):
    """A record reduced for summarizing, so that a summary of any run size fits in little memory."""

    sample_id: str
    status: str
    error: str | None
    grade: Grade | None
    mode: str
    finished_at: float
    result: ResultDigest | None


def endpoint_attempts(result: ProblemResult) -> dict[str, EndpointAttempts]:
    counts: dict[str, EndpointAttempts] = {}
    for call in result.calls:
        for attempt in call.attempts:
            entry = counts.setdefault(attempt.endpoint, EndpointAttempts())
            entry.attempts += 1
            entry.failed += attempt.error_kind is not None
    return counts


def digest_result(result: ProblemResult) -> ResultDigest:
    return ResultDigest(
        rounds=result.rounds,
        termination=result.termination,
        evaluator_correct=result.evaluator_correct,
        ceo_decisions=result.ceo_decisions,
        fallbacks=result.fallbacks,
        fallback_agents=[str(event.detail.get("agent")) for event in result.events if event.kind == "fallback"],
        clamped=sum(event.kind == "ceo_clamped" for event in result.events),
        failed_calls=result.failed_calls,
        context_overflows=sum(call.status == "context_overflow" for call in result.calls),
        truncated_replies=sum(call.truncated for call in result.calls),
        usage=result.usage,
        usage_by_model=result.usage_by_model,
        usage_by_endpoint=result.usage_by_endpoint,
        attempts=endpoint_attempts(result),
        wall_time_s=result.wall_time_s,
        total_tokens=result.total_tokens,
        completion_tokens=result.completion_tokens,
    )


def compact(record: RunRecord) -> CompactRecord:
    return CompactRecord(
        sample_id=record.sample_id,
        status=record.status,
        error=record.error,
        grade=record.grade,
        mode=record.mode,
        finished_at=record.finished_at,
        result=None if record.result is None else digest_result(record.result),
    )


def token_totals(
    records: list[CompactRecord], by: Literal["agent", "model", "endpoint"] = "agent"
) -> dict[str, AgentUsage]:
    totals: dict[str, AgentUsage] = {}
    for record in records:
        result = record.result
        if result is None:
            continue
        split = {"agent": result.usage, "model": result.usage_by_model, "endpoint": result.usage_by_endpoint}[by]
        for agent, usage in split.items():
            entry = totals.setdefault(agent, AgentUsage())
            entry.calls += usage.calls
            entry.failed_calls += usage.failed_calls
            entry.prompt_tokens += usage.prompt_tokens
            entry.completion_tokens += usage.completion_tokens
            entry.latency_s += usage.latency_s
    return totals


def attempt_totals(results: list[ResultDigest]) -> dict[str, EndpointAttempts]:
    totals: dict[str, EndpointAttempts] = {}
    for result in results:
        for endpoint, counts in result.attempts.items():
            entry = totals.setdefault(endpoint, EndpointAttempts())
            entry.attempts += counts.attempts
            entry.failed += counts.failed
    return totals


def ceo_statistics(results: list[ResultDigest]) -> CEOStatistics:
    decisions = [decision for result in results for decision in result.ceo_decisions]
    return CEOStatistics(
        decisions=len(decisions),
        by_source=dict(Counter(decision.source for decision in decisions)),
        stop=sum(decision.decision == "stop" for decision in decisions),
        recruit_number=dict(Counter(str(decision.recruit_number) for decision in decisions)),
        max_tokens=dict(Counter(str(decision.max_tokens) for decision in decisions)),
        clamped=sum(result.clamped for result in results),
        fallbacks=dict(Counter(agent for result in results for agent in result.fallback_agents)),
    )


def problem_errors(records: list[CompactRecord]) -> list[ProblemError]:
    return [
        ProblemError(id=record.sample_id, error=(record.error or "unknown error")[:ERROR_MESSAGE_CHARS])
        for record in records
        if record.status != "ok"
    ]


def run_wall_time(records: list[CompactRecord]) -> float | None:
    spans = [
        (record.finished_at - record.result.wall_time_s, record.finished_at) for record in records if record.result
    ]
    return max(end for _, end in spans) - min(start for start, _ in spans) if spans else None


def summarize(
    records: Iterable[RunRecord], kind: str, *, not_run: int = 0, run_dir: str, task: str, model: str
) -> RunSummary:
    """The summary of one run's records (the latest record of each problem of its slice).

    Each record is reduced as it is read, so `records` may stream a run of any size.
    """
    compacted = [compact(record) for record in records]
    completed = [record for record in compacted if record.status == "ok" and record.grade is not None]
    completed_results = [record.result for record in completed if record.result is not None]
    judged = [result for result in completed_results if result.evaluator_correct is not None]
    grades = [record.grade for record in completed if record.grade is not None]
    results = [record.result for record in compacted if record.result is not None]
    score = mean([grade.score for grade in grades])
    problem_scores = {record.sample_id: record.grade.score for record in completed if record.grade is not None}
    self_accuracy = mean([float(result.evaluator_correct is True) for result in judged])
    return RunSummary(
        run_dir=run_dir,
        task=task,
        model=model,
        mode=compacted[0].mode if compacted else "multi-agent",
        metric=METRIC_NAMES[kind],
        problems=len(compacted) + not_run,
        completed=len(completed),
        errors=len(compacted) - len(completed),
        not_run=not_run,
        score=None if score is None else 100 * score,
        standard_error=None if score is None else 100 * standard_error(list(problem_scores.values())),
        problem_scores=problem_scores,
        no_answer=sum(grade.status == GradeStatus.NO_ANSWER for grade in grades),
        grades=dict(Counter(str(grade.status) for grade in grades)),
        error_problems=problem_errors(compacted),
        evaluator_self_accuracy=None if self_accuracy is None else 100 * self_accuracy,
        evaluator_unjudged=len(completed_results) - len(judged),
        mean_rounds=mean([float(result.rounds) for result in completed_results]),
        terminations=dict(Counter(result.termination for result in completed_results)),
        ceo=ceo_statistics(results),
        fallbacks=sum(result.fallbacks for result in results),
        failed_calls=sum(result.failed_calls for result in results),
        context_overflows=sum(result.context_overflows for result in results),
        truncated_replies=sum(result.truncated_replies for result in results),
        attempts_by_endpoint=attempt_totals(results),
        tokens_by_agent=token_totals(compacted),
        tokens_by_model=token_totals(compacted, "model"),
        tokens_by_endpoint=token_totals(compacted, "endpoint"),
        mean_tokens_per_problem=mean([float(result.total_tokens) for result in completed_results]),
        mean_completion_tokens_per_problem=mean([float(result.completion_tokens) for result in completed_results]),
        problem_wall_time_s=mean([result.wall_time_s for result in results]),
        run_wall_time_s=run_wall_time(compacted),
    )


@dataclass(frozen=True)
class JudgeSettings:
    """An LLM judge, used only when the user names one (the paper's scoring protocol)."""

    model: str
    base_url: str
    api_key_env: str | None = None
    temperature: float = 0.7
    concurrency: int = 16


async def judge_records(records: list[RunRecord], settings: JudgeSettings, cache: Path) -> JudgeSummary:
    """Judge every completed record (cached in the run directory) and compare with the rule grades."""
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
    agreement = mean([float(rule == judged) for rule, judged in paired])
    return JudgeSummary(
        model=settings.model,
        score=None if score is None else 100 * score,
        grades=dict(Counter(str(grade.status) for grade in verdicts)),
        errors=len(verdicts) - len(scored),
        agreement_with_rules=None if agreement is None else 100 * agreement,
    )


def open_run(path: Path) -> tuple[RunDirectory, TaskConfig]:
    run_dir = RunDirectory(path)
    if not run_dir.config_path.exists():
        raise FileNotFoundError(f"{path}: not a run directory (no {run_dir.config_path.name})")
    return run_dir, load_run_config(run_dir)


async def evaluate_run(path: Path, *, regrade_answers: bool = False, judge: JudgeSettings | None = None) -> RunSummary:
    """Summarize one run directory from its stored grades (re-grading them first when asked),
    write its summary.json, and return the summary."""
    run_dir, config = open_run(path)
    streamed, not_run = run_dir.slice_records(run_dir.read_slice())
    records: Iterable[RunRecord] = streamed
    if regrade_answers or judge is not None:
        records = list(streamed)  # both need the whole answers: loaded only when asked for
        if regrade_answers:
            records = await regrade(records, config.task.kind)
    summary = summarize(
        records, config.task.kind, not_run=not_run, run_dir=str(path), task=config.task.name, model=config.llm.model
    )
    if judge is not None:
        summary.judge = await judge_records(list(records), judge, path / JUDGE_CACHE_FILE)
    summary.load = run_dir.read_load()
    run_dir.write_summary(summary)
    return summary


def over_runs(summaries: list[RunSummary]) -> Estimate:
    """The statistics of several runs of one benchmark: problems x runs (see agentverse.sweeps.stats)."""
    ids = sorted({sample_id for summary in summaries for sample_id in summary.problem_scores})
    matrix = [
        [summary.problem_scores[sample_id] for summary in summaries if sample_id in summary.problem_scores]
        for sample_id in ids
    ]
    return estimate(matrix)


def aggregate(summaries: list[RunSummary]) -> RunsAggregate:
    """Average several runs of the same benchmark (the paper reports means over runs)."""
    scores = [summary.score for summary in summaries if summary.score is not None]
    return RunsAggregate(
        runs=len(summaries),
        metric=summaries[0].metric if summaries else None,
        mean_score=mean(scores),
        standard_error=100 * over_runs(summaries).standard_error,
        stdev_score=statistics.stdev(scores) if len(scores) > 1 else 0.0,
        scores=scores,
        errors=sum(summary.errors for summary in summaries),
        problems=sum(summary.problems for summary in summaries),
    )
