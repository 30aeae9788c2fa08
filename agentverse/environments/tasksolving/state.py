"""The state one problem carries from round to round, and the plan each round follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentverse.agents.agent import Agent
from agentverse.agents.output_parsers import EvaluatorVerdict
from agentverse.trace import Trace
from dataloader.base import Sample


class RoundPlan(BaseModel):
    """What the CEO (or the fixed configuration) decided for one round; kept typed in records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Literal["continue", "stop"]
    recruit_number: int
    direction: str
    max_tokens: int | None = Field(description="None: each agent keeps its configured max_tokens.")
    source: Literal["ceo", "fallback", "fixed"] = Field(
        description="`ceo`: the CEO's reply; `fallback`: its reply could not be read; `fixed`: no CEO."
    )
    round: int = Field(default=0, description="The round this plan was made for.")


# What the next round's CEO and role assigner see when the evaluator's reply could not be read.
EVALUATION_FAILED = "The evaluation failed: no advice is available."


@dataclass(frozen=True)
class ExecutorReport:
    summary: str
    passed: bool | None = None


@dataclass
class ProblemState:
    """Per-problem data only: the components get their settings when the environment is built."""

    sample: Sample
    trace: Trace
    solver: Agent | None = None
    solution: str | None = None
    evaluation: EvaluatorVerdict | None = None
    evaluation_failed: bool = False  # the last evaluator reply could not be read
    plan: RoundPlan | None = None
    plans: list[RoundPlan] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    def advice_text(self) -> str:
        if self.evaluation_failed:
            return EVALUATION_FAILED
        if self.evaluation is None:
            return "No advice yet."
        return self.evaluation.feedback or self.evaluation.advice
