"""Each kind of config mistake gives one error naming the file and the field path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentverse.config.loader import ConfigError, apply_overrides, known_tasks, load_task_config
from agentverse_command.tasksolving import main as tasksolving_main

BASE = "tasksolving/math500/m1-32b"


def write_variant(tmp_path: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    _, path = load_task_config(BASE)
    raw = yaml.safe_load(path.read_text())
    edit(raw)
    target = tmp_path / "config.yaml"
    target.write_text(yaml.safe_dump(raw))
    return target


def error_for(tmp_path: Path, edit: Callable[[dict[str, Any]], object]) -> ConfigError:
    path = write_variant(tmp_path, edit)
    with pytest.raises(ConfigError) as caught:
        load_task_config(str(path))
    assert caught.value.source == str(path)
    return caught.value


def test_all_twelve_shipped_configs_load() -> None:
    tasks = known_tasks()
    assert len(tasks) == 12
    for task in tasks:
        config, _ = load_task_config(task)
        assert config.task.name == task.split("/")[1]


def test_paper_settings_in_m1_configs() -> None:
    aime, _ = load_task_config("tasksolving/aime2024/m1-32b")
    mbpp, _ = load_task_config("tasksolving/mbpp_sanitized/m1-32b")
    assert aime.environment.rule.ceo.max_recruits == 4 and aime.llm.thinking
    assert aime.agent("critic").llm.max_tokens == 16384 and aime.agent("ceo").llm.max_tokens == 32000
    assert mbpp.environment.max_turn == 1 and mbpp.environment.rule.decision_maker.max_inner_turns == 1
    assert mbpp.environment.rule.executor.type == "code-test" and mbpp.agent("critic").llm.max_tokens == 8192
    assert mbpp.environment.rule.ceo.token_menu[0] == 4096


def test_unknown_key(tmp_path: Path) -> None:
    error = error_for(tmp_path, lambda raw: raw["environment"]["rule"]["ceo"].update(stop_early=True))
    assert error.field == "environment.rule.ceo.stop_early"
    assert "unknown key" in str(error)


def test_wrong_type_names_agent(tmp_path: Path) -> None:
    error = error_for(tmp_path, lambda raw: raw["agents"][2]["llm"].update(max_tokens="lots"))
    assert error.field == "agents[2] (solver).llm.max_tokens"
    assert "integer" in error.message


def test_out_of_range_value(tmp_path: Path) -> None:
    error = error_for(tmp_path, lambda raw: raw["agents"][0]["llm"].update(temperature=5))
    assert error.field == "agents[0] (ceo).llm.temperature"


def test_unknown_registry_key_lists_valid_keys(tmp_path: Path) -> None:
    error = error_for(tmp_path, lambda raw: raw["environment"]["rule"]["decision_maker"].update(type="debate"))
    assert error.field == "environment.rule.decision_maker.type"
    assert "vertical-solver-first" in error.message and "brainstorming" in error.message


def test_unknown_output_parser(tmp_path: Path) -> None:
    error = error_for(tmp_path, lambda raw: raw["agents"][3]["output_parser"].update(type="json"))
    assert error.field == "agents[3] (critic).output_parser.type"
    assert "critic" in error.message and "evaluator" in error.message


def test_unknown_placeholder(tmp_path: Path) -> None:
    edit = lambda raw: raw["agents"][3].update(append_prompt_template="Review ${soluton}")  # noqa: E731
    error = error_for(tmp_path, edit)
    assert error.field == "agents[3] (critic)"
    assert "soluton" in error.message and "solution" in error.message


def test_missing_agent(tmp_path: Path) -> None:
    error = error_for(
        tmp_path, lambda raw: raw.update(agents=[a for a in raw["agents"] if a["agent_type"] != "critic"])
    )
    assert "missing agent_type" in error.message and "critic" in error.message


def test_inconsistent_bounds(tmp_path: Path) -> None:
    error = error_for(tmp_path, lambda raw: raw["environment"]["rule"]["ceo"].update(min_recruits=5))
    assert error.field == "environment.rule.ceo"
    assert "min_recruits" in error.message


def test_bad_base_url(tmp_path: Path) -> None:
    error = error_for(tmp_path, lambda raw: raw["llm"].update(base_urls=["gpu-node:8000"]))
    assert error.field == "llm.base_urls"


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("task: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_task_config(str(path))
    assert str(path) in str(caught.value) and "invalid YAML" in str(caught.value)


def test_unknown_task_lists_known_tasks() -> None:
    with pytest.raises(ConfigError) as caught:
        load_task_config("tasksolving/math500/gpt-7")
    assert "tasksolving/math500/m1-32b" in str(caught.value)


def test_overrides_make_a_new_object() -> None:
    config, path = load_task_config(BASE)
    changed = apply_overrides(config, {"llm.model": "other", "llm.base_urls": "http://h:1/v1/"}, str(path))
    assert config.llm.model == "m1-32b" and changed.llm.model == "other"
    assert changed.llm.base_urls == ["http://h:1/v1"]
    with pytest.raises(ConfigError) as caught:
        apply_overrides(config, {"environment.max_turn": 0}, str(path))
    assert caught.value.field == "environment.max_turn"


def test_cli_reports_config_error_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_variant(tmp_path, lambda raw: raw["environment"].update(max_turns=3))
    with pytest.raises(SystemExit) as caught:
        tasksolving_main(["--task", str(path), "--input", "1+1?"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert str(path) in err and "environment.max_turns" in err


def test_cli_missing_api_key_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAS_TTS_TEST_KEY", raising=False)
    code = tasksolving_main(
        ["--task", BASE, "--input", "1+1?", "--api-key-env", "MAS_TTS_TEST_KEY", "--base-url", "http://127.0.0.1:9/v1"]
    )
    assert code == 2
    assert "MAS_TTS_TEST_KEY" in capsys.readouterr().err
