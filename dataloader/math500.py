"""MATH-500: the 500-problem subset of MATH used by "Let's Verify Step by Step".

Raw schema (hub `HuggingFaceH4/MATH-500`, split test): problem, solution, answer, subject, level,
unique_id (e.g. "test/precalculus/807.json"), which becomes the sample id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataloader.base import Sample
from dataloader.records import optional_text, require_text
from dataloader.spec import Benchmark, HubSource

HUB_PATH = "HuggingFaceH4/MATH-500"
HUB_CONFIG: str | None = None
HUB_SPLIT = "test"
EXPECTED_SIZE = 500


def from_raw(record: Mapping[str, Any]) -> Sample:
    metadata: dict[str, Any] = {}
    for key in ("subject", "solution"):
        value = optional_text(record, key)
        if value is not None:
            metadata[key] = value
    if record.get("level") is not None:
        # Levels are integers 1-5 on the hub; keep them as numbers for per-level reports.
        metadata["level"] = record["level"]
    return Sample(
        id=require_text(record, "unique_id").strip(),
        input=require_text(record, "problem").strip(),
        target=require_text(record, "answer").strip(),
        metadata=metadata,
    )


BENCHMARK = Benchmark(
    name="math500",
    hub=HubSource(HUB_PATH, HUB_CONFIG, HUB_SPLIT),
    to_stored=from_raw,
    expected_size=EXPECTED_SIZE,
)
