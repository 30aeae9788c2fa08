"""Graders keyed by answer kind (the config's `task.kind`), all with one async signature."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from agentverse.graders.base import Grade
from agentverse.graders.code import grade_code
from agentverse.graders.commongen import grade_concept_coverage
from agentverse.graders.math import grade_math
from agentverse.graders.multiple_choice import grade_multiple_choice
from agentverse.registry import Registry
from dataloader.base import Sample

Grader = Callable[[Sample, str], Awaitable[Grade]]
GRADERS: Registry[Grader] = Registry("grader")


def _text_target(sample: Sample) -> str:
    return sample.target if isinstance(sample.target, str) else ", ".join(sample.target)


@GRADERS.register("math")
async def math_grader(sample: Sample, response: str) -> Grade:
    # Inline, not in a thread: a check takes milliseconds, and math_verify's own timeouts need
    # the main thread (where the CLI's event loop runs).
    return grade_math(response, _text_target(sample))


@GRADERS.register("multiple-choice")
async def multiple_choice_grader(sample: Sample, response: str) -> Grade:
    return grade_multiple_choice(response, _text_target(sample))


@GRADERS.register("code")
async def code_grader(sample: Sample, response: str) -> Grade:
    return await grade_code(sample, response)


@GRADERS.register("concept-coverage")
async def concept_coverage_grader(sample: Sample, response: str) -> Grade:
    concepts = sample.target if isinstance(sample.target, list) else re.split(r"[\s,]+", sample.target.strip())
    # A thread: the first call loads spaCy (seconds), which must not stall the event loop.
    return await asyncio.to_thread(grade_concept_coverage, response, concepts)


def get_grader(kind: str) -> Grader:
    """The grader for an answer kind; an unknown kind raises an error listing the valid ones."""
    return GRADERS.get(kind)
