"""The state one problem carries from round to round, and the plan each round follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agentverse.agents.agent import Agent
from agentverse.agents.output_parsers import EvaluatorVerdict
from agentverse.config.schema import TaskConfig
from agentverse.llms.client import LLMClient
from agentverse.trace import Trace
from dataloader.base import Sample


@dataclass(frozen=True)
class RoundPlan:
    """What the CEO (or the fixed configuration) decided for one round."""

    decision: Literal["continue", "stop"]
    recruit_number: int
    direction: str
    max_tokens: int | None  # None: each agent keeps its configured max_tokens
    source: Literal["ceo", "fallback", "fixed"]


@dataclass(frozen=True)
class ExecutorReport:
    summary: str
    passed: bool | None = None


@dataclass
class ProblemState:
    sample: Sample
    config: TaskConfig
    llm: LLMClient
    trace: Trace
    solver: Agent | None = None
    solution: str | None = None
    evaluation: EvaluatorVerdict | None = None
    plan: RoundPlan | None = None
    roles: list[str] = field(default_factory=list)

    def advice_text(self) -> str:
        if self.evaluation is None:
            return "No advice yet."
        suggestion = self.evaluation.recruiting_suggestion
        return self.evaluation.advice + (f"\nRecruiting suggestion: {suggestion}" if suggestion else "")
