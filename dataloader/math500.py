"""MATH-500: the 500-problem subset of MATH used by "Let's Verify Step by Step".

Raw schemas, all accepted:

* hub `HuggingFaceH4/MATH-500`, split test: problem, solution, answer, subject, level,
  unique_id (e.g. "test/precalculus/807.json"), which becomes the sample id;
* the research repository's `data/math500/test.jsonl`: the same without unique_id;
* the original MATH release: problem, solution, type (the subject), level as "Level 3", and no
  answer field (the answer is the last `\\boxed{}` of the solution); `question` for the problem.

A record without an id gets a hash of its problem text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dataloader.base import Sample
from dataloader.records import find_field, optional_text, problem_text, reference_answer, sample_id
from dataloader.spec import Benchmark, HubSource

HUB_PATH = "HuggingFaceH4/MATH-500"
HUB_CONFIG: str | None = None
HUB_SPLIT = "test"
EXPECTED_SIZE = 500
ID_FIELDS = ("unique_id", "id", "problem_id")
LEVEL_TEXT = re.compile(r"^\s*(?:level\s*)?(\d+)\s*$", re.IGNORECASE)


def from_raw(record: Mapping[str, Any]) -> Sample:
    problem = problem_text(record)
    return Sample(
        id=sample_id(record, ID_FIELDS, problem),
        input=problem,
        target=reference_answer(record),
        metadata=extra_fields(record),
    )


def extra_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    subject = optional_text(record, "subject", "type")
    if subject is not None:
        metadata["subject"] = subject
    solution = optional_text(record, "solution")
    if solution is not None:
        metadata["solution"] = solution
    level_field = find_field(record, "level")
    if level_field is not None:
        metadata["level"] = level_number(record[level_field])
    return metadata


def level_number(level: Any) -> Any:
    """Levels are integers 1-5 on the hub; keep them as numbers for per-level reports.

    The original release writes "Level 3"; "Level ?" (a few problems) stays as written.
    """
    if isinstance(level, str) and (match := LEVEL_TEXT.match(level)):
        return int(match.group(1))
    return level


BENCHMARK = Benchmark(
    name="math500",
    hub=HubSource(HUB_PATH, HUB_CONFIG, HUB_SPLIT),
    to_stored=from_raw,
    expected_size=EXPECTED_SIZE,
)
