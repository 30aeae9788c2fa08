"""The viewer's data: the records index (built once, cached beside the records, extended as a run
appends), the runs found under a path, each problem as its page shows it, and the export."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from agentverse.view.export import export_html
from agentverse.view.index import INDEX_FILE, RecordsFile
from agentverse.view.problem import problem_view
from agentverse.view.runs import RunRegistry, find_runs, find_sweeps
from agentverse.view.server import KATEX, build_app


def copy_run(run_dir: Path, folder: Path) -> Path:
    target = folder / run_dir.name
    shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns(INDEX_FILE, ".lock"))
    return target


def test_the_index_is_built_once_cached_and_extended_by_appended_records(
    view_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    run_dir = copy_run(view_runs[0], tmp_path)
    records = RecordsFile(run_dir / "records.jsonl")
    assert records.refresh() and sorted(row.id for row in records.rows) == ["p1", "p2"]
    cache = run_dir / INDEX_FILE
    assert cache.exists()
    cached = json.loads(cache.read_text())
    assert cached["indexed_bytes"] == (run_dir / "records.jsonl").stat().st_size
    # A second reader uses the cache: it reads no record to build its table.
    again = RecordsFile(run_dir / "records.jsonl")
    again.refresh()
    assert [row.model_dump() for row in again.rows] == [row.model_dump() for row in records.rows]
    # The run appends: a new problem, a retried one (the last record wins) and half a line.
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    new = json.loads(lines[0])
    new["sample"]["id"] = "p3"
    retried = json.loads(lines[1])
    retried["status"], retried["grade"] = "error", None
    with (run_dir / "records.jsonl").open("a") as handle:
        handle.write(json.dumps(new) + "\n" + json.dumps(retried) + "\n" + '{"sample": {"id": "p4"')
    assert again.refresh()
    by_id = {row.id: row for row in again.rows}
    assert sorted(by_id) == ["p1", "p2", "p3"]  # the half-written line waits
    assert by_id[retried["sample"]["id"]].status == "error" and by_id[retried["sample"]["id"]].records == 2
    assert again.read_record(by_id["p3"])["sample"]["id"] == "p3"
    assert not again.refresh()  # nothing new since


def test_a_rewritten_records_file_is_indexed_again(view_runs: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir = copy_run(view_runs[0], tmp_path)
    records = RecordsFile(run_dir / "records.jsonl")
    records.refresh()
    first = (run_dir / "records.jsonl").read_text().splitlines()[0]
    (run_dir / "records.jsonl").write_text(first + "\n")
    fresh = RecordsFile(run_dir / "records.jsonl")
    fresh.refresh()
    assert len(fresh.rows) == 1


def test_a_run_whose_index_cannot_be_written_is_indexed_in_memory(view_runs: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir = copy_run(view_runs[0], tmp_path)
    (run_dir / INDEX_FILE).mkdir()  # in the way of the cache (as a read-only directory would be)
    records = RecordsFile(run_dir / "records.jsonl")
    assert records.refresh() and len(records.rows) == 2
    assert (run_dir / INDEX_FILE).is_dir() and not list(run_dir.glob(".index-*"))


def test_runs_are_found_under_folders_with_their_statistics(view_runs: tuple[Path, Path]) -> None:
    runs = find_runs([view_runs[0].parent])
    assert [run.path.name for run in runs] == ["run", "run-no-ceo"]
    stats = runs[0].stats()
    assert stats.task == "math500" and stats.model == "fake" and len(stats.config_digest) == 12
    assert (stats.problems, stats.completed, stats.errors, stats.no_answer) == (2, 2, 0, 0)
    assert stats.score == pytest.approx(50.0) and stats.standard_error == pytest.approx(50.0)
    summary = json.loads((view_runs[0] / "summary.json").read_text())
    assert stats.score == pytest.approx(summary["score"])


def test_statistics_and_table_cover_the_runs_slice_as_its_summary_does(
    view_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    run_dir = copy_run(view_runs[0], tmp_path)
    entries = json.loads((run_dir / "slice.json").read_text())
    p1 = next(entry for entry in entries if entry["id"] == "p1")
    (run_dir / "slice.json").write_text(json.dumps([p1]))  # a later invocation with --limit 1
    (run,) = find_runs([run_dir])
    stats = run.stats()
    assert (stats.problems, stats.completed, stats.score) == (1, 1, 100.0)
    assert [row.id for row in run.current_rows()[0]] == ["p1"]
    (run_dir / "slice.json").write_text(json.dumps([{"id": "p1", "digest": "changed"}]))  # p1 edited since
    stats = run.stats()
    assert (stats.problems, stats.completed, stats.score) == (1, 0, None)


def test_a_sweep_directory_shows_its_points(view_runs: tuple[Path, Path], tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    for point in ("max_turn=1", "max_turn=2"):
        for run in ("run-1", "run-2", "run-10"):
            shutil.copytree(view_runs[0], sweep / "points" / point / run, ignore=shutil.ignore_patterns(".lock"))
    (sweep / "points.csv").write_text(
        "system,kind,settings,k,runs,problems,score,standard_error,ci_low,ci_high,mean_completion_tokens,"
        "mean_total_tokens,mean_calls,mean_rounds,errors,pass_at_k\n"
        'max_turn=1,mas,"{}",,3,2,50.0,50.0,0.0,100.0,35.0,585.0,5.0,1.0,0,\n'
        'max_turn=2,mas,"{}",,3,0,,,,,0.0,0.0,0.0,0.0,6,\n'
    )
    runs = find_runs([sweep])
    assert [run.name for run in runs] == [
        f"sweep/points/{point}/{run}" for point in ("max_turn=1", "max_turn=2") for run in ("run-1", "run-2", "run-10")
    ]
    assert all(run.sweep and run.group == f"sweep/points/{run.path.parent.name}" for run in runs)
    (table,) = find_sweeps([sweep], runs)
    first, empty = table.points
    assert (first.system, first.score, first.standard_error, first.run_key) == ("max_turn=1", 50.0, 50.0, runs[0].key)
    assert empty.score is None and empty.errors == 6 and empty.run_key == runs[3].key


def test_a_problem_page_holds_every_round_decision_verdict_and_failed_call(view_runs: tuple[Path, Path]) -> None:
    records = RecordsFile(view_runs[0] / "records.jsonl")
    records.refresh()
    p1 = problem_view(records.read_record(records.row("p1")))  # type: ignore[arg-type]
    p2 = problem_view(records.read_record(records.row("p2")))  # type: ignore[arg-type]
    assert [round.number for round in p1.rounds] == [1, 2]
    first = p1.rounds[0]
    assert first.plan is not None and first.plan.decision == "continue" and first.plan.max_tokens == 256
    assert first.plan.clamped == {"max_tokens": {"asked": 5000, "used": 256}}
    assert len(first.experts) == 2 and first.experts[0].startswith("A mathematician specialized in algebra")
    verdicts = [[call.verdict for call in round.calls if call.agent_type == "critic"] for round in p1.rounds]
    assert verdicts == [["disagree"], ["agree"]]
    assert [event.detail for event in first.events if event.kind == "critic_verdicts"] == [{"agree": [False]}]
    assert first.evaluation is not None and first.evaluation["advice"] == "Recheck the sum."
    assert p1.grade is not None and p1.grade["status"] == "correct"
    fallback = p2.rounds[1].plan
    assert fallback is not None and fallback.source == "fallback"
    failed = [call for call in p2.rounds[1].calls if call.status == "parse_error"]
    assert failed and all(call.agent_type == "ceo" and call.error for call in failed)
    retried = [call for call in p2.rounds[0].calls if len(call.attempts) > 1]
    assert [attempt.status_code for attempt in retried[0].attempts] == [500, None]


@pytest.mark.skipif(not (KATEX / "katex.min.js").exists(), reason="viewer assets not built")
def test_the_export_is_one_file_with_the_data_and_no_external_reference(
    view_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    output = tmp_path / "report.html"
    size = export_html(find_runs([view_runs[0]]), output)
    page = output.read_text()
    assert size == output.stat().st_size
    assert 'id="embedded-data"' in page and "Recheck the sum." in page and "data:font/woff2;base64," in page
    assert not re.search(r"""(src|href)=["'](https?:|/)""", page)  # nothing to fetch: no server, no network
    assert not re.search(r"url\((?!data:)", page)


def test_runs_started_later_appear_and_keep_their_keys(view_runs: tuple[Path, Path], tmp_path: Path) -> None:
    folder = tmp_path / "math500"
    copy_run(view_runs[0], folder)
    registry = RunRegistry([folder])
    (first,) = registry.all()
    copy_run(view_runs[1], folder)  # e.g. run-2 of --runs 2, started after the viewer
    registry.refresh()
    assert [run.key for run in registry.all()] == [first.key, "r1"] and registry.get(first.key) is first
    assert registry.get("r1") is not None and registry.get("r1").path.name == "run-no-ceo"  # type: ignore[union-attr]


def test_a_linked_run_keeps_the_name_it_has_here(view_runs: tuple[Path, Path], tmp_path: Path) -> None:
    elsewhere = copy_run(view_runs[0], tmp_path / "elsewhere")
    folder = tmp_path / "here" / "math500"
    folder.mkdir(parents=True)
    (folder / "latest").symlink_to(elsewhere)
    (run,) = find_runs([folder])
    assert run.name == "math500/latest" and run.stats().completed == 2


async def test_the_server_answers_only_requests_addressed_to_this_machine(view_runs: tuple[Path, Path]) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(build_app(RunRegistry([view_runs[0]])))) as client:
        assert (await client.get("/api/runs")).status == 200  # Host: 127.0.0.1:PORT
        assert (await client.get("/api/runs", headers={"Host": f"localhost:{client.port}"})).status == 200
        rebound = await client.get("/api/runs", headers={"Host": "attacker.example:7575"})
        assert rebound.status == 403  # a page whose own name was rebound to 127.0.0.1 reads nothing
    async with TestClient(TestServer(build_app(RunRegistry([view_runs[0]]), open_to_any_host=True))) as client:
        assert (await client.get("/api/runs", headers={"Host": "gpu-node:7575"})).status == 200  # --host 0.0.0.0
