"""Grade record shared by every grader."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class GradeStatus(StrEnum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    NO_ANSWER = "no_answer"  # nothing could be extracted from the response
    ERROR = "error"  # the grader itself could not decide (e.g. sandbox fault)


class Grade(BaseModel):
    """The outcome of grading one response against one sample."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: GradeStatus
    score: float = Field(ge=0.0, le=1.0, description="1/0 for exact metrics; coverage fraction for CommonGen.")
    extracted: str | None = Field(default=None, description="The answer the grader extracted, if any.")
    detail: str = Field(default="", description="Why: mismatch, failing assert, missing concepts...")
