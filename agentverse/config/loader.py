"""Load a task config from YAML, validate it strictly, and apply command-line overrides.

Every error is a `ConfigError` naming the file and the field path, e.g.
`agentverse/tasks/.../config.yaml: agents[2] (solver).llm.max_tokens: Input should be greater than 0`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agentverse.config.schema import TaskConfig
from agentverse.registry import UnknownKeyError

TASKS_ROOT = Path(__file__).resolve().parent.parent / "tasks"
TASK_CONFIG_FILE = "config.yaml"  # the file a task folder holds


class ConfigError(ValueError):
    """A config problem, carrying the file and the dotted field path."""

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        super().__init__(f"{source}: {field}: {message}" if field else f"{source}: {message}")


def resolve_task_path(task: str) -> Path:
    """`tasksolving/math500/m1-32b` -> the packaged config; a file or folder path is used as is."""
    candidate = Path(task)
    if candidate.is_file():
        return candidate
    if candidate.is_dir() and (candidate / TASK_CONFIG_FILE).is_file():
        return candidate / TASK_CONFIG_FILE
    packaged = TASKS_ROOT / task / TASK_CONFIG_FILE
    if packaged.is_file():
        return packaged
    raise ConfigError(task, "", f"no task config found; known tasks: {', '.join(known_tasks())}")


def known_tasks() -> list[str]:
    return sorted(str(path.parent.relative_to(TASKS_ROOT)) for path in TASKS_ROOT.glob("*/*/*/config.yaml"))


def field_path(location: tuple[int | str, ...], raw: dict[str, Any]) -> str:
    """Render a pydantic location as `agents[2] (solver).llm.max_tokens`."""
    parts: list[str] = []
    node: Any = raw
    for item in location:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and "agent_type" in node:
                parts[-1] += f" ({node['agent_type']})"
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def validate_config(raw: Any, source: str) -> TaskConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "the top level must be a mapping")
    try:
        config = TaskConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key (not part of the config schema)"
        raise ConfigError(source, field_path(tuple(first["loc"]), raw), message) from None
    check_component_keys(config, source)
    return config


def check_component_keys(config: TaskConfig, source: str) -> None:
    """Every `type:` must name a registered component; the error lists the valid keys."""
    from agentverse.components import REGISTRIES

    rule = config.environment.rule
    fields = {
        "environment.rule.ceo.type": ("ceo", rule.ceo.type),
        "environment.rule.role_assigner.type": ("role_assigner", rule.role_assigner.type),
        "environment.rule.decision_maker.type": ("decision_maker", rule.decision_maker.type),
        "environment.rule.executor.type": ("executor", rule.executor.type),
        "environment.rule.evaluator.type": ("evaluator", rule.evaluator.type),
    }
    for index, agent in enumerate(config.agents):
        path = f"agents[{index}] ({agent.agent_type}).output_parser.type"
        fields[path] = ("output_parser", agent.output_parser.type)
    for path, (concept, key) in fields.items():
        try:
            REGISTRIES[concept].get(key)
        except UnknownKeyError as error:
            raise ConfigError(source, path, str(error)) from None


def load_raw(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(str(path), "", f"invalid YAML: {error}") from None
    except OSError as error:
        raise ConfigError(str(path), "", f"cannot read: {error.strerror}") from None
    return raw


def load_task_config(task: str, overrides: dict[str, Any] | None = None) -> tuple[TaskConfig, Path]:
    """Load and validate a task config; `overrides` are dotted paths (e.g. `llm.model`)."""
    path = resolve_task_path(task)
    raw = load_raw(path)
    config = validate_config(raw, str(path))
    if overrides:
        config = apply_overrides(config, overrides, str(path))
    return config, path


def apply_overrides(config: TaskConfig, overrides: dict[str, Any], source: str) -> TaskConfig:
    """Return a new, re-validated config with dotted-path overrides; the input is untouched."""
    raw = config.model_dump(mode="json")
    for dotted, value in overrides.items():
        keys = dotted.split(".")
        node: dict[str, Any] = raw
        if keys[0] == "agents":  # `agents.<agent_type>.<field>`: the agent of that type
            node, keys = agent_section(raw, dotted, source), keys[2:]
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                raise ConfigError(f"{source} (override)", dotted, "no such section")
            node = node[key]
        if not keys:
            raise ConfigError(f"{source} (override)", dotted, "name a field of the agent, e.g. agents.ceo.endpoint")
        node[keys[-1]] = value
    return validate_config(raw, f"{source} (with overrides)")


def agent_section(raw: dict[str, Any], dotted: str, source: str) -> dict[str, Any]:
    parts = dotted.split(".")
    agent_type = parts[1] if len(parts) > 1 else ""
    for agent in raw.get("agents", []):
        if agent.get("agent_type") == agent_type:
            return dict_node(agent)
    types = ", ".join(agent.get("agent_type", "?") for agent in raw.get("agents", []))
    raise ConfigError(f"{source} (override)", dotted, f"no agent of type {agent_type!r} (the config has: {types})")


def dict_node(value: Any) -> dict[str, Any]:
    assert isinstance(value, dict)
    return value


def dump_config(config: TaskConfig) -> str:
    """The resolved config as YAML, written into every run directory."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
