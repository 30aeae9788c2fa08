"""Where outputs go by default: run directories named after the task config's folder, reports that
never overwrite an earlier one unless asked."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from agentverse.config.loader import TASKS_ROOT
from agentverse.testing.fake_server import BackgroundServer, ScriptedResponder
from agentverse_command.benchmark import build_parser, config_folder_name, run_dirs
from agentverse_command.benchmark import main as benchmark_main
from agentverse_command.report import main as report_main
from tests.conftest import edited_task, fake_config
from tests.runs.test_runner import RIGHT, TASK, model_args, solver_reply, write_problems


def parsed(*flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["--task", TASK, *flags])


@pytest.mark.parametrize(
    ("config_path", "folder"),
    [
        (TASKS_ROOT / "tasksolving" / "math500" / "smollm2" / "config.yaml", "smollm2"),
        (Path("my-configs") / "qwen-7b" / "config.yaml", "qwen-7b"),
        (Path("experiments") / "math500-small.yaml", "math500-small"),
    ],
)
def test_the_config_folder_names_the_run(config_path: Path, folder: str) -> None:
    assert config_folder_name(config_path) == folder


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), ["outputs/math500/smollm2/run-1"]),
        (("--no-ceo",), ["outputs/math500/smollm2-no-ceo/run-1"]),
        (("--single-agent",), ["outputs/math500/smollm2-single-agent/run-1"]),
        (("--runs", "2"), ["outputs/math500/smollm2/run-1", "outputs/math500/smollm2/run-2"]),
        (("--run-dir", "mine"), ["mine"]),
        (("--run-dir", "mine", "--runs", "2"), ["mine/run-1", "mine/run-2"]),
        (("--model", "embedded:smollm2"), ["outputs/math500/smollm2/run-1"]),  # the config's own model
        (
            ("--model", "Qwen/Qwen2.5-7B-Instruct", "--no-ceo"),
            ["outputs/math500/smollm2-Qwen-Qwen2.5-7B-Instruct-no-ceo/run-1"],
        ),
    ],
)
def test_default_run_directories(flags: tuple[str, ...], expected: list[str]) -> None:
    config = fake_config(TASK, ["http://127.0.0.1:9/v1"])  # served as `fake-model`: the model never names the run
    path = TASKS_ROOT / TASK / "config.yaml"
    assert [str(directory) for directory in run_dirs(parsed(*flags), config, path)] == expected


def test_a_benchmark_without_run_dir_writes_under_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 2)
    task = edited_task(TASK, tmp_path, {})  # a config file outside the package: its stem names the runs
    monkeypatch.chdir(tmp_path)
    with BackgroundServer(ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])) as server:
        plain = benchmark_main(["--task", task, "--data", str(data), *model_args(server.base_url)])
        without_ceo = benchmark_main(["--task", task, "--data", str(data), "--no-ceo", *model_args(server.base_url)])
    assert plain == 0 and without_ceo == 0
    runs = tmp_path / "outputs" / "math500"
    assert sorted(path.name for path in runs.iterdir()) == [  # --model fake is not the config's model
        "tasksolving-math500-smollm2-fake",
        "tasksolving-math500-smollm2-fake-no-ceo",
    ]
    for folder in runs.iterdir():
        assert (folder / "run-1" / "records.jsonl").read_text().count("\n") == 2


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    data = write_problems(tmp_path / "data.jsonl", 2)
    run_dir = tmp_path / "run"
    with BackgroundServer(ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])) as server:
        code = benchmark_main(
            ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *model_args(server.base_url)]
        )
    assert code == 0
    return run_dir


def test_each_report_gets_a_fresh_directory_by_default(
    finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert report_main([str(finished_run)]) == 0
    assert report_main([str(finished_run)]) == 0
    reports = tmp_path / "outputs" / "reports"
    assert sorted(path.name for path in reports.iterdir()) == ["report-1", "report-2"]
    assert (reports / "report-2" / "report.md").is_file()
    assert f"wrote {Path('outputs/reports/report-2/report.md')}" in capsys.readouterr().out


def test_a_report_never_overwrites_a_directory_unless_forced(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    out.mkdir()
    earlier = out / "notes.md"
    earlier.write_text("my notes")
    assert report_main([str(finished_run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(out) in err and "--force" in err and "Traceback" not in err
    assert sorted(path.name for path in out.iterdir()) == ["notes.md"]
    assert report_main([str(finished_run), "--out", str(out), "--force"]) == 0
    assert (out / "report.md").is_file() and earlier.read_text() == "my notes"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert report_main([str(finished_run), "--out", str(empty)]) == 0  # an empty folder holds nothing to lose
