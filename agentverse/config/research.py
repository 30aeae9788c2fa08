"""Convert a research-format task config (the AgentVerse / MAS-TTS YAML schema) into ours.

The research prompts are read from the user's own checkout at conversion time; nothing of
theirs ships with this project. The result reproduces the research code's requests:
its prompts, per-agent budgets and sampling, its message layout (`research-api` or
`research-local`) and its behaviour (the CEO's Stop is not honoured, the recruit number is
`max(2, n)` with no cap, the CEO's budget is clamped to [2048, 32000]). Every key is either
mapped, dropped with a reason, or refused with its key path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, Literal

import yaml

from agentverse.config.loader import ConfigError, validate_config
from agentverse.config.schema import TaskConfig

ResearchLayout = Literal["api", "local"]

# Facts of the research code: the model names it runs in-process with vLLM (its local path),
# and those it prefills with `<think>`.
LOCAL_MODELS = frozenset(
    {
        "llama-2-7b-chat-hf",
        "llama-2-13b-chat-hf",
        "llama-2-70b-chat-hf",
        "vicuna-7b-v1.5",
        "vicuna-13b-v1.5",
        "qwen2.5-32b-instruct",
        "s1.1-32b",
        "deepseek-r1-distill-qwen-32b",
        "d1-32b",
        "m1-32b",
        "Qwen/Qwen2.5-32B-Instruct",
        "simplescaling/s1.1-32B",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
    }
)
THINKING_MODELS = frozenset({"m1-32b", "d1-32b"})
RESEARCH_CONTEXT = 32768  # the research code's send limit for these models
RESEARCH_TOP_P = 0.95  # a default in the research code; its configs do not set it

BENCHMARK_KINDS = {
    "math500": "math",
    "aime2024": "math",
    "gpqa_diamond": "multiple-choice",
    "humaneval": "code",
    "mbpp_sanitized": "code",
    "commongen": "concept-coverage",
}

# The placeholders the research code fills, per agent type, and ours for the same value (None:
# ours has no counterpart). Any other `$` is left as written by its `safe_substitute`, so the
# importer escapes it.
RESEARCH_PLACEHOLDERS: dict[str, dict[str, str | None]] = {
    "ceo": {
        "task_description": "task_description",
        "solution": "solution",
        "advice": "advice",
        "current_resources": "resources",
        "model": None,
    },
    "role_assigner": {
        "task_description": "task_description",
        "advice": "advice",
        "cnt_critic_agents": "cnt_agents",  # the research value is the whole team's size
    },
    "solver": {
        "task_description": "task_description",
        "role_description": "role_description",
        "advice": "direction",  # the research solver's `advice` is the CEO's direction
        "former_solution": None,
    },
    "critic": {
        "task_description": "task_description",
        "role_description": "role_description",
        "advice": "direction",
        "preliminary_solution": "solution",
        "agent_name": None,
        "all_roles": None,
        "tool_descriptions": None,
    },
    "evaluator": {
        "task_description": "task_description",
        "solution": "solution",
        "result": "result",
        "all_role_description": "all_role_description",
    },
}

# Research output parser -> ours, per agent type.
PARSERS: dict[str, dict[str, str]] = {
    "ceo": {"ceo": "research-ceo"},
    "role_assigner": {"role_assigner": "research-role-assigner"},
    "solver": {"mgsm": "solver", "commongen": "solver", "humaneval-solver": "research-code-solver"},
    "critic": {"mgsm-critic-agree": "research-critic"},
    "evaluator": {"mgsm-evaluator": "research-evaluator", "humaneval-evaluator": "research-evaluator"},
}
PARSER_DIMENSIONS = {
    "ceo": ["Decision", "Recruit Number", "Direction", "Maximum Tokens"],
    "evaluator": ["Correctness"],
}
EXECUTORS = {"none": "none", "code-test": "code-test", "coverage-test": "concept-coverage"}
DECISION_MAKERS = ("vertical-solver-first", "vertical", "horizontal", "concurrent", "brainstorming")
TOP_LEVEL_ANCHORS = ("cnt_agents", "max_turn", "max_inner_turns", "cnt_critic_agents", "max_rounds")
AGENT_KEYS = frozenset(
    {
        "agent_type",
        "name",
        "role_description",
        "prepend_prompt_template",
        "append_prompt_template",
        "prompt_template",
        "max_retry",
        "max_history",
        "memory",
        "llm",
        "output_parser",
    }
)
LLM_KEYS = frozenset({"llm_type", "model", "temperature", "max_tokens", "top_p", "stop", "n"})
LLM_ZERO_KEYS = frozenset({"presence_penalty", "frequency_penalty"})  # accepted only at their default, 0


class ImportRefused(ConfigError):
    """A key of the research config that cannot be mapped; names the file and the key path."""


@dataclass
class Conversion:
    """The converted config, and what happened to each research key (for the user to read)."""

    config: TaskConfig
    raw: dict[str, Any]
    mapped: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)


@dataclass
class Converter:
    source: str
    layout: ResearchLayout | None
    benchmark: str | None
    base_urls: list[str] | None = None
    mapped: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    def refuse(self, path: str, message: str) -> ImportRefused:
        return ImportRefused(self.source, path, message)

    def expect_mapping(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.refuse(path, f"expected a mapping, got {type(value).__name__}")
        return value

    def value(self, node: dict[str, Any], key: str, path: str, kind: type | tuple[type, ...], default: Any) -> Any:
        """`node[key]` (or the default when absent), refused unless it has the expected type."""
        value = node.get(key, default)
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.refuse(f"{path}.{key}", f"expected {describe_kind(kind)}, got {value!r}")
        if not isinstance(value, kind):
            raise self.refuse(f"{path}.{key}", f"expected {describe_kind(kind)}, got {value!r}")
        return value

    def count(self, node: dict[str, Any], key: str, path: str, default: int, low: int) -> int:
        value: int = self.value(node, key, path, int, default)
        if value < low:
            raise self.refuse(f"{path}.{key}", f"expected a whole number of at least {low}, got {value!r}")
        return value

    def number(self, node: dict[str, Any], key: str, path: str, default: float, low: float, high: float) -> Any:
        value = self.value(node, key, path, (int, float), default)
        if not low <= value <= high:
            raise self.refuse(f"{path}.{key}", f"expected a number from {low:g} to {high:g}, got {value!r}")
        return value

    def check_keys(self, node: dict[str, Any], path: str, allowed: frozenset[str] | set[str]) -> None:
        for key in node:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                raise self.refuse(where, f"unknown key: cannot be mapped (known here: {', '.join(sorted(allowed))})")

    def convert(self, research: Any) -> Conversion:
        root = self.expect_mapping(research, "")
        allowed = {*TOP_LEVEL_ANCHORS, "prompts", "name", "environment", "agents"}
        self.check_keys(root, "", allowed)
        for key in TOP_LEVEL_ANCHORS:
            if key in root:
                self.dropped.append(f"{key}: an anchor holder; its value is used where it is referenced")
        if "prompts" in root:
            self.dropped.append("prompts: anchor holders; the prompts are copied into each agent")
        if "name" in root:
            self.dropped.append(f"name ({root['name']!r}): not used by the loop")
        agents_raw = root.get("agents")
        if not isinstance(agents_raw, list) or not agents_raw:
            raise self.refuse("agents", "expected a non-empty list of agents")
        environment = self.environment(self.expect_mapping(root.get("environment", {}), "environment"))
        model = self.model_of(agents_raw)
        layout = self.layout or ("local" if model in LOCAL_MODELS else "api")
        agents = [
            agent
            for index, entry in enumerate(agents_raw)
            if (agent := self.agent(index, self.expect_mapping(entry, f"agents[{index}]"), layout, environment))
            is not None
        ]
        raw = {
            "task": self.task_info(),
            "llm": self.endpoint(model, layout),
            "environment": environment,
            "agents": agents,
        }
        self.differences.extend(RUNTIME_DIFFERENCES)
        config = validate_config(raw, f"{self.source} (converted)")
        return Conversion(config, raw, self.mapped, self.dropped, self.differences)

    def task_info(self) -> dict[str, str]:
        name = self.benchmark or benchmark_from_path(Path(self.source))
        if name not in BENCHMARK_KINDS:
            known = ", ".join(sorted(BENCHMARK_KINDS))
            raise self.refuse("", f"cannot tell the benchmark from the path (got {name!r}); pass --benchmark ({known})")
        self.mapped.append(f"(path) -> task: {{name: {name}, kind: {BENCHMARK_KINDS[name]}}}")
        return {"name": name, "kind": BENCHMARK_KINDS[name]}

    def model_of(self, agents: list[Any]) -> str:
        """The one model every agent names (each must name one)."""
        models = set()
        for index, entry in enumerate(agents):
            if not isinstance(entry, dict) or entry.get("agent_type") in ("manager", "executor"):
                continue  # refused later with its path, or dropped
            path = f"agents[{index}] ({entry.get('agent_type')})"
            llm = self.expect_mapping(entry.get("llm"), f"{path}.llm")
            model = llm.get("model")
            if not isinstance(model, str) or not model:
                raise self.refuse(f"{path}.llm.model", f"expected a model name, got {model!r}")
            models.add(model)
        if len(models) != 1:
            raise self.refuse("agents[*].llm.model", f"expected one model for every agent, found {sorted(models)}")
        return models.pop()

    def endpoint(self, model: str, layout: ResearchLayout) -> dict[str, Any]:
        thinking = layout == "local" and model in THINKING_MODELS
        endpoint: dict[str, Any] = {
            "backend": "openai",
            "model": model,
            "thinking": thinking,
            "think_prefill": "<think>",
            "continuation_api": "chat",
            "context_length": RESEARCH_CONTEXT,
            "budget_forcing": "research" if layout == "local" else "length",
            "budget_forcing_margin": 200,
            "fit_to_context": False,
        }
        if self.base_urls:
            endpoint["base_urls"] = self.base_urls
        path = "local model path (in-process vLLM)" if layout == "local" else "API path"
        self.mapped.append(
            f"agents[*].llm.model {model!r} -> llm.model; layout {layout} (the research code's {path}); "
            f"thinking {str(thinking).lower()}; budget forcing {endpoint['budget_forcing']}"
        )
        return endpoint

    def environment(self, node: dict[str, Any]) -> dict[str, Any]:
        self.check_keys(node, "environment", {"env_type", "max_turn", "rule"})
        if node.get("env_type", "task-basic") != "task-basic":
            raise self.refuse("environment.env_type", f"only task-basic can be mapped, got {node['env_type']!r}")
        rule = self.expect_mapping(node.get("rule", {}), "environment.rule")
        self.check_keys(rule, "environment.rule", {"ceo", "role_assigner", "decision_maker", "executor", "evaluator"})
        converted = {
            "env_type": "task-basic",
            "max_turn": node.get("max_turn", 2),
            "rule": {
                "ceo": self.ceo_rule(self.expect_mapping(rule.get("ceo", {"type": "basic"}), "environment.rule.ceo")),
                "role_assigner": self.role_rule(rule.get("role_assigner", {})),
                "decision_maker": self.discussion_rule(rule.get("decision_maker", {})),
                "executor": self.executor_rule(rule.get("executor", {})),
                "evaluator": self.evaluator_rule(rule.get("evaluator", {})),
            },
        }
        self.mapped.append(f"environment.max_turn {converted['max_turn']} -> environment.max_turn")
        return converted

    def typed_rule(self, node: Any, path: str, keys: set[str], types: tuple[str, ...]) -> dict[str, Any]:
        rule = self.expect_mapping(node, path)
        self.check_keys(rule, path, {"type", *keys})
        if rule.get("type") not in types:
            raise self.refuse(f"{path}.type", f"{rule.get('type')!r} cannot be mapped (known: {', '.join(types)})")
        return rule

    def ceo_rule(self, node: dict[str, Any]) -> dict[str, Any]:
        self.typed_rule(node, "environment.rule.ceo", set(), ("basic",))
        self.mapped.append(
            "environment.rule.ceo.type basic -> environment.rule.ceo: type basic, honor_stop false (Stop is parsed, "
            "never acted on), min_recruits 2 and max_recruits null (max(2, n), no cap), budget clamp [2048, 32000]"
        )
        return {
            "type": "basic",
            "honor_stop": False,
            "min_recruits": 2,
            "max_recruits": None,
            "budget": "clamp",
            "token_range": [2048, 32000],
        }

    def role_rule(self, node: Any) -> dict[str, Any]:
        path = "environment.rule.role_assigner"
        rule = self.typed_rule(node, path, {"cnt_agents"}, ("role_description",))
        self.mapped.append(f"{path} -> {path} (type role_description, cnt_agents {rule.get('cnt_agents', 2)})")
        return {"type": "role_description", "cnt_agents": rule.get("cnt_agents", 2)}

    def discussion_rule(self, node: Any) -> dict[str, Any]:
        path = "environment.rule.decision_maker"
        rule = self.typed_rule(node, path, {"max_inner_turns"}, DECISION_MAKERS)
        turns = rule.get("max_inner_turns", 3)
        if rule["type"] != "vertical-solver-first":
            self.differences.append(
                f"decision_maker {rule['type']}: mapped by name to ours; only vertical-solver-first (the paper's) "
                "was checked against the research code's requests"
            )
        self.mapped.append(f"{path} -> {path} (type {rule['type']}, max_inner_turns {turns}, share_critiques true)")
        return {"type": rule["type"], "max_inner_turns": turns, "share_critiques": True}

    def executor_rule(self, node: Any) -> dict[str, Any]:
        path = "environment.rule.executor"
        rule = self.typed_rule(node, path, set(), tuple(EXECUTORS))
        ours = EXECUTORS[rule["type"]]
        self.mapped.append(f"{path}.type {rule['type']} -> {path}.type {ours}")
        if rule["type"] == "coverage-test":
            self.differences.append(
                "executor coverage-test: our concept-coverage report reads 'N of M concepts used; missing: ...'; "
                "the research one reads 'Coverage: \\boxed{x}%' and 'Missing Tokens: [...]' (the evaluator's ${result})"
            )
        if rule["type"] == "code-test":
            self.differences.append(
                "executor code-test: the research executor is a model that writes a test file once per problem "
                "(one extra call) and runs it unsandboxed; ours runs the problem's public tests in the sandbox"
            )
        return {"type": ours}

    def evaluator_rule(self, node: Any) -> dict[str, Any]:
        self.typed_rule(node, "environment.rule.evaluator", set(), ("basic",))
        return {"type": "basic"}

    def agent(
        self, index: int, node: dict[str, Any], layout: ResearchLayout, environment: dict[str, Any]
    ) -> dict[str, Any] | None:
        agent_type = node.get("agent_type")
        path = f"agents[{index}] ({agent_type})"
        self.check_keys(node, path, AGENT_KEYS)
        if agent_type == "manager":
            self.dropped.append(
                f"{path}: the manager is never called by {environment['rule']['decision_maker']['type']}"
            )
            return None
        if agent_type == "executor":
            used = environment["rule"]["executor"]["type"] == "code-test"
            reason = "our code-test executor needs no model (see the differences)" if used else "never called"
            self.dropped.append(f"{path}: {reason}")
            return None
        if not isinstance(agent_type, str) or agent_type not in RESEARCH_PLACEHOLDERS:
            raise self.refuse(f"{path}.agent_type", f"{agent_type!r} cannot be mapped")
        if "prompt_template" in node:
            raise self.refuse(f"{path}.prompt_template", "only prepend/append templates can be mapped for this agent")
        converted: dict[str, Any] = {
            "agent_type": agent_type,
            "name": self.value(node, "name", path, str, agent_type) or agent_type,
            "role_description": self.value(node, "role_description", path, (str, type(None)), "") or "",
            "prepend_prompt_template": self.template(node, "prepend_prompt_template", path, agent_type),
            "append_prompt_template": self.template(node, "append_prompt_template", path, agent_type),
            "max_retry": self.count(node, "max_retry", path, 3, low=1),
            "memory": self.memory(node, path, layout),
            "output_parser": {"type": self.parser(node.get("output_parser"), f"{path}.output_parser", agent_type)},
            "llm": self.generation(self.expect_mapping(node.get("llm", {}), f"{path}.llm"), f"{path}.llm"),
        }
        self.mapped.append(
            f"{path}: name {converted['name']!r}, templates, max_retry {converted['max_retry']}, "
            f"max_tokens {converted['llm']['max_tokens']}, temperature {converted['llm']['temperature']}, "
            f"top_p {converted['llm']['top_p']}, parser {converted['output_parser']['type']}"
        )
        return converted

    def template(self, node: dict[str, Any], key: str, path: str, agent_type: str) -> str:
        text = node.get(key, "")
        if text is None:
            return ""
        if not isinstance(text, str):
            raise self.refuse(f"{path}.{key}", "expected a string")
        renamed, missing = rename_placeholders(text, RESEARCH_PLACEHOLDERS[agent_type])
        if missing:
            raise self.refuse(
                f"{path}.{key}", f"placeholder(s) {sorted(missing)} have no counterpart for a {agent_type}"
            )
        return renamed

    def memory(self, node: dict[str, Any], path: str, layout: ResearchLayout) -> dict[str, Any]:
        memory = self.expect_mapping(node.get("memory", {"memory_type": "chat_history"}), f"{path}.memory")
        self.check_keys(memory, f"{path}.memory", {"memory_type", "max_history"})
        if memory.get("memory_type", "chat_history") != "chat_history":
            raise self.refuse(f"{path}.memory.memory_type", f"{memory['memory_type']!r} cannot be mapped")
        converted: dict[str, Any] = {"memory_type": "chat_history", "layout": f"research-{layout}"}
        for where, holder in ((path, node), (f"{path}.memory", memory)):
            if "max_history" in holder:
                window = self.count(holder, "max_history", where, 0, low=0)
                converted["window"] = window
                self.mapped.append(f"{where}.max_history {window} -> memory.window {window}")
        return converted

    def parser(self, node: Any, path: str, agent_type: str) -> str:
        parser = self.expect_mapping(node, path)
        self.check_keys(parser, path, {"type", "dimensions"})
        known = PARSERS[agent_type]
        if not isinstance(parser.get("type"), str) or parser.get("type") not in known:
            raise self.refuse(f"{path}.type", f"{parser.get('type')!r} cannot be mapped (known: {', '.join(known)})")
        dimensions = parser.get("dimensions")
        if dimensions is not None and dimensions != PARSER_DIMENSIONS.get(agent_type):
            raise self.refuse(f"{path}.dimensions", f"{dimensions!r} cannot be mapped")
        if parser["type"] == "humaneval-evaluator":
            self.differences.append(
                "evaluator humaneval-evaluator: read like mgsm-evaluator (Correctness 0/1, everything after Advice:); "
                "the research parser glues the lines together first and takes any non-zero digit as correct"
            )
        return known[parser["type"]]

    def generation(self, llm: dict[str, Any], path: str) -> dict[str, Any]:
        self.check_keys(llm, path, LLM_KEYS | LLM_ZERO_KEYS)
        for key in LLM_ZERO_KEYS & llm.keys():
            if llm[key] not in (0, 0.0):
                raise self.refuse(f"{path}.{key}", "only 0 can be mapped (no penalties are sent)")
        if llm.get("n", 1) != 1:
            raise self.refuse(f"{path}.n", "only n: 1 can be mapped")
        generation: dict[str, Any] = {
            "max_tokens": self.count(llm, "max_tokens", path, 2048, low=1),
            "temperature": self.number(llm, "temperature", path, 0.7, 0.0, 2.0),
            "top_p": self.number(llm, "top_p", path, RESEARCH_TOP_P, 0.0, 1.0),
        }
        stop = llm.get("stop")
        if isinstance(stop, str):
            stop = [stop]
        if stop is not None and not (isinstance(stop, list) and all(isinstance(entry, str) for entry in stop)):
            raise self.refuse(f"{path}.stop", f"expected a string or a list of strings, got {stop!r}")
        if stop:
            generation["stop"] = stop
        return generation


RUNTIME_DIFFERENCES = (
    "an infrastructure failure that outlasts the retries ends the problem as an error (excluded, retried on "
    "resume); the research code answers with a fallback such as 'I don't know'",
    "a reply that cannot be parsed is asked again with the same sampling settings; the research code raises "
    "the penalties, lowers temperature and top_p and halves budgets above 8192 on each retry",
)


def describe_kind(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "a whole number", float: "a number", type(None): "nothing"}
    return " or ".join(names.get(entry, entry.__name__) for entry in kinds)


def rename_placeholders(template: str, names: dict[str, str | None]) -> tuple[str, set[str]]:
    """The template as our `Template` must read it to render what the research code's
    `safe_substitute` renders: the placeholders it fills renamed to ours, every other `$` escaped.
    Returns the text and the research placeholders it uses that have no counterpart."""
    missing: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped") is not None:
            return match.group(0)  # `$$` renders `$` in both
        name = match.group("named") or match.group("braced")
        if name is None or name not in names:
            return "$" + match.group(0)  # left as written by the research code: escaped here
        ours = names[name]
        if ours is None:
            missing.add(name)
            return match.group(0)
        return "${" + ours + "}" if match.group("braced") else "$" + ours

    return Template.pattern.sub(replace, template), missing


def benchmark_from_path(path: Path) -> str:
    """`.../tasksolving/<benchmark>/<model>/config.yaml` -> the benchmark folder name."""
    parts = path.resolve().parts
    return parts[-3] if len(parts) >= 3 else ""


def load_research(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(str(path), "", f"invalid YAML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), "", f"cannot read: {error}") from None


def convert_research_config(
    path: Path,
    layout: ResearchLayout | None = None,
    benchmark: str | None = None,
    base_urls: list[str] | None = None,
) -> Conversion:
    converter = Converter(str(path), layout, benchmark, base_urls)
    return converter.convert(load_research(path))


class LiteralDumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, so the prompts stay readable."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


LiteralDumper.add_representer(str, _represent_text)


def render(conversion: Conversion, source: Path, layout_note: str) -> str:
    header = (
        f"# Imported by agentverse-import-config from {source} ({layout_note}).\n"
        "# The prompts are the research code's own, read from that file; edit here or re-import.\n"
    )
    body = yaml.dump(conversion.raw, Dumper=LiteralDumper, sort_keys=False, allow_unicode=True, width=10_000)
    return header + body
