"""CommonGen-Hard: write one coherent text that uses 20-30 given concepts.

There is no hub copy. The source is a JSONL file from the Self-Refine line of work
(`data/tasks/cg/commongen_hard.jsonl` in the madaan/self-refine repository; AgentVerse ships a copy).
Each line holds a concept list under `concepts` or `concept_set`, as a list or a string joined by
"#" (CommonGen's own dumps), by commas, or by spaces; the research repository's loader read only
`concepts`. The sample id is the line's `id` (a number or a string) when it has one, else a hash
of the sorted concepts, so the id does not depend on the line's position or on the order the
concepts are listed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataloader.base import Sample
from dataloader.errors import RecordError
from dataloader.records import find_field, sample_id
from dataloader.spec import Benchmark

SOURCE_REPOSITORY = "madaan/self-refine"
SOURCE_PATH = "data/tasks/cg/commongen_hard.jsonl"
SOURCE_HINT = (
    f"download {SOURCE_PATH} from the {SOURCE_REPOSITORY} GitHub repository "
    f"(https://github.com/{SOURCE_REPOSITORY}) and pass it with --source PATH_OR_URL"
)
EXPECTED_SIZE = 200
CONCEPT_FIELDS = ("concepts", "concept_set")


def from_raw(record: Mapping[str, Any]) -> Sample:
    concepts = concept_list(record)
    return Sample(
        id=sample_id(record, ("id",), "#".join(sorted(concepts))),
        input=instruction(concepts),
        target=concepts,
        metadata={"num_concepts": len(concepts)},
    )


def concept_list(record: Mapping[str, Any]) -> list[str]:
    field = find_field(record, *CONCEPT_FIELDS)
    if field is None:
        raise RecordError(CONCEPT_FIELDS[0], f"is missing (expected one of {', '.join(CONCEPT_FIELDS)})")
    value = record[field]
    if isinstance(value, str):
        items: list[Any] = split_concepts(value)
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise RecordError(field, f"expected a list or a '#'-joined string, got {type(value).__name__}")
    if any(not isinstance(item, str) for item in items):
        raise RecordError(field, "expected strings")
    concepts = [item.strip() for item in items if item.strip()]
    if not concepts:
        raise RecordError(field, "holds no concepts")
    return concepts


def split_concepts(text: str) -> list[str]:
    """A joined concept string; "#" first, since "ice cream#cone" holds a two-word concept."""
    for separator in ("#", ","):
        if separator in text:
            return text.split(separator)
    return text.split()


def instruction(concepts: list[str]) -> str:
    return (
        f"Write a coherent paragraph that uses all of the following {len(concepts)} concepts "
        f"(any inflected form counts): {', '.join(concepts)}."
    )


BENCHMARK = Benchmark(
    name="commongen",
    hub=None,
    to_stored=from_raw,
    target_is_list=True,
    expected_size=EXPECTED_SIZE,
)
