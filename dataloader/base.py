"""The one record type every benchmark loader produces."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Sample(BaseModel):
    """One benchmark problem, normalized across benchmarks.

    `id` comes from the data (never a row number) so that runs can resume by id.
    `input` is the problem text shown to the agents. `target` is what the grader
    compares against: an answer string (math), an option letter (GPQA), test code
    (HumanEval/MBPP), or the list of concepts (CommonGen). `metadata` carries the
    rest (e.g. entry point, public tests, the GPQA option permutation).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="Stable identifier taken from the data.")
    input: str = Field(min_length=1, description="Problem text given to the agents.")
    target: str | list[str] = Field(description="Ground truth used only by the grader.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Benchmark-specific extras.")
