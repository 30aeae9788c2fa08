"""agentverse-import-config: research-format configs into our schema; every key mapped, dropped or refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agentverse.config.loader import ConfigError, load_task_config
from agentverse.config.research import RESEARCH_PLACEHOLDERS, convert_research_config, rename_placeholders

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "research_format" / "math500_config.yaml"
TEXT = FIXTURE.read_text()


def research_file(tmp_path: Path, replacements: dict[str, str] | None = None, benchmark: str = "math500") -> Path:
    """The research-format fixture, edited, at .../tasksolving/<benchmark>/m1-32b/config.yaml."""
    text = TEXT
    for old, new in (replacements or {}).items():
        assert old in text, old
        text = text.replace(old, new, 1)
    folder = tmp_path / "MAS-TTS" / "agentverse" / "tasks" / "tasksolving" / benchmark / "m1-32b"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(text)
    return path


def refusal(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        convert_research_config(path)
    return caught.value


def test_every_mapped_field_lands_where_it_should(tmp_path: Path) -> None:
    conversion = convert_research_config(research_file(tmp_path))
    config = conversion.config
    research = yaml.safe_load(TEXT)
    assert config.task.name == "math500" and config.task.kind == "math"  # from the folder name
    assert config.environment.max_turn == 2
    assert config.environment.rule.decision_maker.max_inner_turns == 3
    assert config.environment.rule.role_assigner.cnt_agents == 2
    ceo = config.environment.rule.ceo
    assert (ceo.honor_stop, ceo.min_recruits, ceo.max_recruits, ceo.budget, ceo.token_range) == (
        False,
        2,
        None,
        "clamp",
        (2048, 32000),
    )
    assert [agent.agent_type for agent in config.agents] == ["ceo", "role_assigner", "solver", "critic", "evaluator"]
    by_type = {agent["agent_type"]: agent for agent in research["agents"]}
    for agent in config.agents:
        theirs = by_type[agent.agent_type]
        assert agent.name == theirs["name"] and agent.max_retry == theirs["max_retry"]
        assert agent.llm.max_tokens == theirs["llm"]["max_tokens"]
        assert agent.llm.temperature == theirs["llm"]["temperature"] and agent.llm.top_p == 0.95
        assert agent.memory.layout == "research-local"
    assert config.llm.model == "m1-32b" and config.llm.fit_to_context is False
    assert "agents[4] (executor): never called" in conversion.dropped


def test_templates_are_the_research_ones_with_our_placeholder_names(tmp_path: Path) -> None:
    config = convert_research_config(research_file(tmp_path)).config
    research = {agent["agent_type"]: agent for agent in yaml.safe_load(TEXT)["agents"]}
    renames = {"ceo": ("current_resources", "resources"), "solver": ("advice", "direction")}
    renames |= {"critic": ("advice", "direction"), "role_assigner": ("cnt_critic_agents", "cnt_agents")}
    for agent in config.agents:
        for field in ("prepend_prompt_template", "append_prompt_template"):
            expected = research[agent.agent_type][field]
            if agent.agent_type in renames:
                old, new = renames[agent.agent_type]
                expected = expected.replace("${" + old + "}", "${" + new + "}")
            assert getattr(agent, field) == expected, (agent.agent_type, field)
    assert "${direction}" in config.agent("solver").append_prompt_template


def test_layout_follows_the_model_name_unless_given(tmp_path: Path) -> None:
    api = research_file(tmp_path)
    api.write_text(api.read_text().replace('model: "m1-32b"', 'model: "gpt-4o-mini"'))  # every agent
    config = convert_research_config(api).config
    assert config.agent("solver").memory.layout == "research-api" and not config.llm.thinking
    assert config.llm.budget_forcing == "length"
    local = convert_research_config(research_file(tmp_path / "b"), layout="api").config
    assert local.agent("critic").memory.layout == "research-api"


@pytest.mark.parametrize(
    ("replacement", "path"),
    [
        ({"name: pipeline": "name: pipeline\nseed: 3"}, "seed"),
        (
            {"    max_retry: 3\n    memory:": "    max_retry: 3\n    verbose: true\n    memory:"},
            "agents[0] (ceo).verbose",
        ),
        (
            {
                "      max_tokens: 8192\n    output_parser:\n      type: role_assigner": (
                    "      max_tokens: 8192\n      seed: 1\n    output_parser:\n      type: role_assigner"
                )
            },
            "agents[1] (role_assigner).llm.seed",
        ),
        ({"type: mgsm-critic-agree": "type: mgsm-critic-lenient"}, "agents[3] (critic).output_parser.type"),
        ({"type: vertical-solver-first": "type: dynamic"}, "environment.rule.decision_maker.type"),
        ({"env_type: task-basic": "env_type: sde-team"}, "environment.env_type"),
        (
            {"A hint on where to look: ${advice}": "Earlier: ${former_solution}"},
            ("agents[2] (solver).append_prompt_template"),
        ),
        (
            {
                "      temperature: 0.7\n      max_tokens: 32000\n    output_parser:\n      type: mgsm": (
                    "      temperature: 0.7\n      presence_penalty: 0.5\n      max_tokens: 32000\n"
                    "    output_parser:\n      type: mgsm"
                )
            },
            "agents[2] (solver).llm.presence_penalty",
        ),
        ({"memory_type: chat_history": "memory_type: vectorstore"}, "agents[0] (ceo).memory.memory_type"),
    ],
)
def test_what_cannot_be_mapped_is_refused_with_its_key_path(
    tmp_path: Path, replacement: dict[str, str], path: str
) -> None:
    error = refusal(research_file(tmp_path, replacement))
    assert error.field == path, str(error)
    assert error.source.endswith("config.yaml")


def test_a_model_per_agent_is_refused(tmp_path: Path) -> None:
    path = research_file(
        tmp_path,
        {
            '      model: "m1-32b"\n      temperature: 0.7\n      max_tokens: 8192': (
                '      model: "gpt-4o"\n      temperature: 0.7\n      max_tokens: 8192'
            )
        },
    )
    assert refusal(path).field == "agents[*].llm.model"


def test_max_history_becomes_the_window_and_the_manager_is_dropped(tmp_path: Path) -> None:
    manager = (
        "  - agent_type: manager\n    name: Manager\n    prompt_template: ''\n    max_retry: 3\n"
        "    memory:\n      memory_type: chat_history\n    llm:\n      llm_type: m1-32b\n"
        '      model: "m1-32b"\n      temperature: 0.7\n      max_tokens: 8192\n'
        "    output_parser:\n      type: humaneval-manager\n"
    )
    path = research_file(tmp_path, {"    name: Planner\n": "    name: Planner\n    max_history: 4\n"})
    path.write_text(path.read_text() + manager)
    conversion = convert_research_config(path)
    assert conversion.config.agent("solver").memory.window == 4
    assert conversion.config.agent("critic").memory.window is None  # the research default, 3
    assert any(line.startswith("agents[6] (manager)") for line in conversion.dropped)


def test_a_code_config_maps_its_executor_and_names_the_difference(tmp_path: Path) -> None:
    path = research_file(
        tmp_path,
        {
            "    executor:\n      type: none": "    executor:\n      type: code-test",
            "type: mgsm\n": ("type: humaneval-solver\n"),
        },
        benchmark="humaneval",
    )
    conversion = convert_research_config(path)
    assert conversion.config.task.kind == "code"
    assert conversion.config.environment.rule.executor.type == "code-test"
    assert conversion.config.agent("solver").output_parser.type == "research-code-solver"
    assert any("writes a test file" in line for line in conversion.differences)


def test_an_unknown_benchmark_folder_needs_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "research.yaml"
    path.write_text(TEXT)
    assert "--benchmark" in str(refusal(path))
    assert convert_research_config(path, benchmark="aime2024").config.task.name == "aime2024"


def test_templates_render_what_the_research_code_renders() -> None:
    """Research placeholders are renamed to ours; any other `$` (LaTeX, prices, names it does not fill)
    is escaped, because the research code's safe_substitute leaves it as written."""
    from string import Template

    research = "$$advice ${advice} $advice ${task_description} costs $5, $\\boxed{x}$ ${solution} ${former}"
    text, missing = rename_placeholders(research, RESEARCH_PLACEHOLDERS["solver"])
    assert missing == set()
    values = {"advice": "DIRECTION", "task_description": "TASK"}
    ours = {"direction": "DIRECTION", "task_description": "TASK", "solution": "OURS"}
    assert Template(text).substitute(ours) == Template(research).safe_substitute(values)
    _, missing = rename_placeholders("${former_solution}", RESEARCH_PLACEHOLDERS["solver"])
    assert missing == {"former_solution"}


@pytest.mark.parametrize(
    ("replacement", "path"),
    [
        ({"agent_type: solver": "agent_type: [solver]"}, "agents[2] (['solver']).agent_type"),
        ({"type: mgsm-critic-agree": "type: [mgsm]"}, "agents[3] (critic).output_parser.type"),
        (
            {
                '      model: "m1-32b"\n      temperature: 0.7\n      max_tokens: 8192': (
                    "      model: null\n      temperature: 0.7\n      max_tokens: 8192"
                )
            },
            "agents[1] (role_assigner).llm.model",
        ),
        ({"    name: Planner": "    name: [1]"}, "agents[2] (solver).name"),
        ({"    name: Planner": "    name: Planner\n    max_history: -1"}, "agents[2] (solver).max_history"),
        (
            {
                "      max_tokens: 16384\n    output_parser:\n      type: mgsm-critic-agree": (
                    "      max_tokens: lots\n    output_parser:\n      type: mgsm-critic-agree"
                )
            },
            "agents[3] (critic).llm.max_tokens",
        ),
        (
            {
                "      temperature: 0.7\n      max_tokens: 8192\n    output_parser:\n      type: role_assigner": (
                    "      temperature: 0.7\n      stop: 5\n      max_tokens: 8192\n"
                    "    output_parser:\n      type: role_assigner"
                )
            },
            "agents[1] (role_assigner).llm.stop",
        ),
    ],
)
def test_malformed_values_are_refused_with_their_key_path(
    tmp_path: Path, replacement: dict[str, str], path: str
) -> None:
    error = refusal(research_file(tmp_path, replacement))
    assert error.field == path.replace("\\'", "'"), str(error)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "agentverse_command.import_config", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_cli_writes_a_config_that_loads_and_prints_what_it_did(tmp_path: Path) -> None:
    out = tmp_path / "my" / "math500-paper.yaml"
    done = cli(str(research_file(tmp_path)), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "mapped:" in done.stdout and "dropped:" in done.stdout and "still different" in done.stdout
    config, _ = load_task_config(str(out))
    assert config == convert_research_config(research_file(tmp_path)).config
    assert out.read_text().startswith("# Imported by agentverse-import-config")
    again = cli(str(research_file(tmp_path)), "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr


def test_cli_refusal_is_one_message_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.yaml"
    done = cli(str(research_file(tmp_path, {"name: pipeline": "name: pipeline\nseed: 3"})), "--out", str(out))
    assert done.returncode == 2 and not out.exists()
    assert done.stderr.startswith("cannot import: ") and "seed: unknown key" in done.stderr
    assert "Traceback" not in done.stderr
    missing = cli(str(tmp_path / "nope.yaml"), "--out", str(out))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
