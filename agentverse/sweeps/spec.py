"""A sweep file: one task, a grid of config overrides, and the matched-compute baselines.

    task: tasksolving/math500/m1-32b
    limit: 100
    runs: 3
    grid:
      environment.max_turn: [1, 2, 3]
      environment.rule.ceo.type: [basic, none]
    baselines:
      single_agent: {match: tokens}
      self_consistency: {k: [1, 4, 8]}

Every system is a `System`: its name (its run directories' folder), its config and how it runs.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentverse.config.loader import ConfigError, apply_overrides
from agentverse.config.schema import TaskConfig

SELF_CONSISTENCY = "self-consistency"
SINGLE_AGENT_SUFFIX = "+single-agent"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SingleAgentBaseline(Strict):
    match: Literal["tokens"] = Field(
        default="tokens", description="The solver's budget: the MAS point's mean completion tokens per problem."
    )


class SelfConsistencyBaseline(Strict):
    k: list[Annotated[int, Field(gt=0)]] = Field(
        min_length=1, description="Sample counts; one run of the largest serves them all."
    )

    @field_validator("k")
    @classmethod
    def _sorted(cls, value: list[int]) -> list[int]:
        return sorted(set(value))


class Baselines(Strict):
    single_agent: SingleAgentBaseline | None = None
    self_consistency: SelfConsistencyBaseline | None = None


class SweepSpec(Strict):
    task: str = Field(min_length=1, description="A task config, as for agentverse-benchmark --task.")
    data: str | None = Field(default=None, description="A JSONL data file (default: the benchmark's).")
    limit: int | None = Field(default=None, gt=0, description="Only the first N problems.")
    runs: int = Field(default=1, gt=0, description="Independent runs per system (the sampling seed differs).")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="Config field (dotted) -> values.")
    baselines: Baselines = Field(default_factory=Baselines)

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"{key}: give at least one value")
            for item in values:
                if not plain(item):  # e.g. an unquoted 2024-01-01, which YAML reads as a date
                    raise ValueError(f"{key}: {item!r} is not a string, number, boolean or null (quote it)")
        return value


def plain(value: Any) -> bool:
    """A value a config field and points.csv can hold as written: JSON's scalars, lists and maps."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and plain(item) for key, item in value.items())
    return False


class System(BaseModel):
    """One thing the sweep runs `runs` times: a grid point (the MAS), or a baseline."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    kind: Literal["mas", "single-agent", "self-consistency"]
    settings: dict[str, Any]
    config: TaskConfig
    samples: int | None = None  # self-consistency: the largest k
    point: str | None = None  # single agent: the MAS point whose compute it matches


def load_sweep(path: Path) -> SweepSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), "", f"cannot read: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(str(path), "", f"invalid YAML: {error}") from None
    try:
        return SweepSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(str(path), where, message) from None


def short_names(keys: list[str]) -> dict[str, str]:
    """Each dotted key by its last part, or its last two where the last part is shared; a role's
    setting by its role and last part (`agents.ceo.llm.max_tokens`: `ceo.max_tokens`)."""
    lasts = [key.rsplit(".", 1)[-1] for key in keys]

    def short(key: str, last: str) -> str:
        parts = key.split(".")
        if parts[0] == "agents" and len(parts) > 2:
            return f"{parts[1]}.{last}"
        return ".".join(parts[-2:]) if lasts.count(last) > 1 else last

    return {key: short(key, last) for key, last in zip(keys, lasts, strict=True)}


def point_name(settings: dict[str, Any]) -> str:
    if not settings:
        return "base"
    names = short_names(list(settings))
    text = "__".join(f"{names[key]}={value}" for key, value in settings.items())
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text)


def systems(spec: SweepSpec, base: TaskConfig, source: str) -> list[System]:
    """The grid points (each a MAS system) and the self-consistency baseline. The matched single
    agents are made once their point's compute is known (`matched_single_agent`)."""
    keys = list(spec.grid)
    found: list[System] = []
    for values in itertools.product(*(spec.grid[key] for key in keys)):
        settings = dict(zip(keys, values, strict=True))
        try:
            config = apply_overrides(base, settings, source) if settings else base
        except ConfigError as error:
            raise ConfigError(source, f"grid ({error.field})", error.message) from None
        name = point_name(settings)
        if any(system.name == name for system in found):
            raise ConfigError(source, "grid", f"two points would both be named {name!r}: make their values differ")
        found.append(System(name=name, kind="mas", settings=settings, config=config))
    consistency = spec.baselines.self_consistency
    if consistency is not None:
        samples = max(consistency.k)
        found.append(System(name=SELF_CONSISTENCY, kind="self-consistency", settings={}, config=base, samples=samples))
    return found


def matched_single_agent(point: System, budget: int) -> System:
    """The single agent whose solver may spend the point's mean completion tokens per problem."""
    agents = [
        agent.model_copy(update={"llm": agent.llm.model_copy(update={"max_tokens": budget})})
        if agent.agent_type == "solver"
        else agent
        for agent in point.config.agents
    ]
    config = point.config.model_copy(update={"agents": agents})
    return System(
        name=point.name + SINGLE_AGENT_SUFFIX,
        kind="single-agent",
        settings={**point.settings, "solver max_tokens": budget},
        config=config,
        point=point.name,
    )


def seeded(config: TaskConfig, run: int) -> TaskConfig:
    """Run `run` of a system: every agent samples with seed `run` (the runs of a point differ)."""
    agents = [agent.model_copy(update={"llm": agent.llm.model_copy(update={"seed": run})}) for agent in config.agents]
    return config.model_copy(update={"agents": agents})
