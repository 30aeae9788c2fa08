"""AIME 2024: 30 competition problems with integer answers (0-999).

Raw schemas, all accepted:

* hub `HuggingFaceH4/aime_2024`, split train: id (int), problem, solution, answer, url, year;
* the research repository's `data/aime2024/test.jsonl`: the same without year;
* mirrors with capitalized names (ID, Problem, Solution, Answer) or `question` for the problem.

The sample id is the record's id as a string; a record without one gets a hash of its problem
text. Without an answer field, the answer is the last `\\boxed{}` of the solution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataloader.base import Sample
from dataloader.records import optional_text, problem_text, reference_answer, sample_id
from dataloader.spec import Benchmark, HubSource

HUB_PATH = "HuggingFaceH4/aime_2024"
HUB_CONFIG: str | None = None
HUB_SPLIT = "train"
EXPECTED_SIZE = 30
ID_FIELDS = ("id", "problem_id", "unique_id")


def from_raw(record: Mapping[str, Any]) -> Sample:
    problem = problem_text(record)
    metadata = {
        key: value
        for key, value in (
            ("solution", optional_text(record, "solution")),
            ("url", optional_text(record, "url")),
            ("year", optional_text(record, "year")),
        )
        if value is not None
    }
    return Sample(
        id=sample_id(record, ID_FIELDS, problem),
        input=problem,
        target=reference_answer(record),
        metadata=metadata,
    )


BENCHMARK = Benchmark(
    name="aime2024",
    hub=HubSource(HUB_PATH, HUB_CONFIG, HUB_SPLIT),
    to_stored=from_raw,
    expected_size=EXPECTED_SIZE,
)
