#!/usr/bin/env python
"""Write documentation/configuration.md from the config schema itself, so the two never drift.

Usage: python scripts/make_config_reference.py [--check]
  --check   exit 1 when the file on disk differs from what the schema gives (used by the tests)
"""

from __future__ import annotations

import argparse
import re
import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentverse.components import REGISTRIES  # noqa: E402
from agentverse.config import schema  # noqa: E402

OUTPUT = ROOT / "documentation" / "configuration.md"
SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("(top level)", schema.TaskConfig),
    ("task", schema.TaskInfo),
    ("llm", schema.EndpointConfig),
    ("environment", schema.EnvironmentConfig),
    ("environment.rule", schema.RuleConfig),
    ("environment.rule.ceo", schema.CEORuleConfig),
    ("environment.rule.role_assigner", schema.RoleAssignerRuleConfig),
    ("environment.rule.decision_maker", schema.DecisionMakerRuleConfig),
    ("environment.rule.executor", schema.ExecutorRuleConfig),
    ("environment.rule.evaluator", schema.EvaluatorRuleConfig),
    ("agents[i]", schema.AgentConfig),
    ("agents[i].llm", schema.GenerationConfig),
    ("agents[i].memory", schema.MemoryConfig),
    ("agents[i].output_parser", schema.OutputParserConfig),
]

HEADER = """# Configuration reference

Generated from `agentverse/config/schema.py` by `python scripts/make_config_reference.py`; a test
fails when this file and the schema disagree. Every section rejects unknown keys, and every error
names the file and the field path (for example `agents[2] (solver).llm.max_tokens`).

A task config lives at `agentverse/tasks/tasksolving/<benchmark>/<model>/config.yaml`. YAML anchors
(`&name` / `*name`) under `prompts:` let agents share prompt texts. Prompt templates use
`${placeholder}`; each agent type accepts only its own placeholders (listed at the end).
Command-line flags (`--model`, `--base-url`, `--api-key-env`, `--backend`, `--thinking`,
`--max-concurrency`, `--context-length`, `--max-turn`, `--no-ceo`) override the file and make a new,
re-validated config; nothing is read from the environment except the API key named by
`llm.api_key_env`, and only when a client is built.

What each agent sees of the discussion is set per agent under `memory`: `layout` (`turns`, our
own; `research-api` and `research-local`, the research code's two paths) and `window` (the last
messages sent; default 5 for the solver, 3 for critics). Configs converted from the research code by
`agentverse-import-config` use the research layouts; see `documentation/paper-exact.md`.
"""


def type_name(annotation: object) -> str:
    """A readable type: `int | None`, `list[int]`, `tuple[int, int]` (constraints go in their own column)."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(arguments[0])
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        return " | ".join(type_name(argument) for argument in arguments)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(argument) for argument in arguments) + "]"
    if origin is not None and arguments:
        names = ["..." if argument is Ellipsis else type_name(argument) for argument in arguments]
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(names)}]"
    if annotation is type(None):
        return "None"
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return text.replace("typing.", "").replace("agentverse.config.schema.", "")


def default_text(field: object) -> str:
    default = getattr(field, "default", PydanticUndefined)
    factory = getattr(field, "default_factory", None)
    if factory is not None:
        value = factory()
        return "(section defaults)" if isinstance(value, BaseModel) else f"`{value!r}`"
    if default is PydanticUndefined:
        return "**required**"
    return f"`{default!r}`"


def constraints(field: object) -> str:
    # MinLen(min_length=1) -> min_length=1
    parts = [re.sub(r"^\w+\((.*)\)$", r"\1", str(item)) for item in getattr(field, "metadata", [])]
    return ", ".join(parts)


def section(path: str, model: type[BaseModel]) -> str:
    lines = [f"## `{path}`", "", "| key | type | default | constraints | meaning |", "|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        cells = [
            f"`{name}`",
            "`" + type_name(field.annotation).replace("|", "\\|") + "`",
            default_text(field),
            constraints(field),
            description,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def registries() -> str:
    lines = ["## Registered component keys", "", "| concept | valid `type:` keys |", "|---|---|"]
    for concept, registry in REGISTRIES.items():
        keys = registry.keys()
        lines.append(f"| {concept} | {', '.join(f'`{key}`' for key in keys)} |")
    lines += ["", "## Placeholders per agent type", "", "| agent_type | placeholders |", "|---|---|"]
    for agent_type, names in schema.PLACEHOLDERS.items():
        lines.append(
            f"| {agent_type} | {', '.join(f'`${{{name}}}`' for name in sorted(names | {'role_description'}))} |"
        )
    return "\n".join(lines) + "\n"


def render() -> str:
    return HEADER + "\n" + "\n".join(section(path, model) for path, model in SECTIONS) + "\n" + registries()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python scripts/make_config_reference.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
