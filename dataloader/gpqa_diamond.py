"""GPQA-Diamond: 198 graduate-level multiple-choice science questions.

Raw schemas, all accepted: the hub's (`Idavidrein/gpqa`, config `gpqa_diamond`, split train;
gated): Question, Correct Answer, Incorrect Answer 1..3, Record ID, Explanation, Subdomain,
High-level domain; the research repository's `data/gpqa_diamond/test.jsonl`, the same without
Record ID (its Question_w_answers, with the correct answer always at B, is ignored); mirrors
spelling the names in snake case (question, correct_answer, incorrect_answer_1, record_id or id)
or listing the three wrong answers as `incorrect_answers`. Without an id, the id is a hash of
the question.

Two views of one question:

* Stored (the normalized JSONL line written by `scripts/prepare_data.py`): `input` is the bare
  question, `target` the correct answer's text, and `metadata` keeps the unshuffled raw fields
  (`question`, `correct_answer`, `incorrect_answers`). No order is baked into the file.
* Presented (what `load_samples` returns): `present` rebuilds the sample from those metadata fields,
  so the option order is chosen at load time. `input` is the question followed by
  "(A) ...\\n(B) ...\\n(C) ...\\n(D) ..."; `target` is the correct letter; metadata adds
  `permutation` (for each displayed letter, the index into
  [correct, incorrect 1, incorrect 2, incorrect 3]), `options` (the displayed texts), `shuffled`
  and `seed`. A presented sample can be presented again with other options (it still carries the
  raw fields), so a file of either view loads.

With `shuffle_options=True` the order comes from `random.Random(f"{seed}:{id}")`: the same for a
question across runs and machines (string seeds do not depend on PYTHONHASHSEED), different
across questions, and independent of file order or `--limit`. With `shuffle_options=False` the
order is the research code's fixed [incorrect 1, correct, incorrect 2, incorrect 3], which put the
correct answer always at B; keep it only to reproduce that setup.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from dataloader.base import Sample
from dataloader.errors import RecordError
from dataloader.records import find_field, optional_text, require_text, require_text_list, sample_id
from dataloader.spec import Benchmark, HubSource, LoadOptions

HUB_PATH = "Idavidrein/gpqa"
HUB_CONFIG = "gpqa_diamond"
HUB_SPLIT = "train"
EXPECTED_SIZE = 198

LETTERS = "ABCD"
# The research code's order: [incorrect 1, correct, incorrect 2, incorrect 3].
RESEARCH_ORDER = (1, 0, 2, 3)
ID_FIELDS = ("Record ID", "id")
LIST_FIELD = "incorrect_answers"
EXTRA_FIELDS = {"Explanation": "explanation", "Subdomain": "subdomain", "High-level domain": "domain"}


def to_stored(record: Mapping[str, Any]) -> Sample:
    """The order-free sample kept in the normalized file."""
    question = require_text(record, "Question").strip()
    correct = require_text(record, "Correct Answer").strip()
    incorrect = incorrect_answers(record)
    metadata: dict[str, Any] = {
        "question": question,
        "correct_answer": correct,
        "incorrect_answers": incorrect,
    }
    for raw_name, name in EXTRA_FIELDS.items():
        value = optional_text(record, raw_name)
        if value is not None:
            metadata[name] = value.strip()
    return Sample(
        id=sample_id(record, ID_FIELDS, question),
        input=question,
        target=correct,
        metadata=metadata,
    )


def incorrect_answers(record: Mapping[str, Any]) -> list[str]:
    """The three wrong answers, numbered fields (the hub) or one list (some mirrors)."""
    list_field = find_field(record, LIST_FIELD)
    if list_field is None:
        return [require_text(record, f"Incorrect Answer {number}").strip() for number in (1, 2, 3)]
    answers = [answer.strip() for answer in require_text_list(record, list_field)]
    if len(answers) != len(LETTERS) - 1 or not all(answers):
        raise RecordError(list_field, f"expected 3 non-empty answers, got {answers!r}")
    return answers


def option_order(sample_id: str, *, shuffle_options: bool, seed: int) -> list[int]:
    """For each displayed letter, the index into [correct, incorrect 1, incorrect 2, incorrect 3]."""
    if not shuffle_options:
        return list(RESEARCH_ORDER)
    order = list(range(len(LETTERS)))
    random.Random(f"{seed}:{sample_id}").shuffle(order)
    return order


def present(sample: Sample, options: LoadOptions) -> Sample:
    """The sample the agents see: lettered options in a per-question order, the letter as target."""
    question = sample.metadata.get("question")
    correct = sample.metadata.get("correct_answer")
    if not isinstance(question, str) or not question.strip():
        raise RecordError("metadata.question", "is missing (GPQA samples keep the raw question)")
    if not isinstance(correct, str) or not correct.strip():
        raise RecordError("metadata.correct_answer", "is missing (GPQA samples keep the raw answers)")
    try:
        incorrect = require_text_list(sample.metadata, "incorrect_answers")
    except RecordError as error:
        raise RecordError(f"metadata.{error.field}", error.problem) from None
    if len(incorrect) != 3:
        raise RecordError("metadata.incorrect_answers", f"expected 3 answers, got {len(incorrect)}")
    choices = [correct, *incorrect]
    order = option_order(sample.id, shuffle_options=options.shuffle_options, seed=options.seed)
    displayed = [choices[index] for index in order]
    lines = [f"({letter}) {text}" for letter, text in zip(LETTERS, displayed, strict=True)]
    metadata = {
        **sample.metadata,
        "permutation": order,
        "options": displayed,
        "shuffled": options.shuffle_options,
        "seed": options.seed,
    }
    return Sample(
        id=sample.id,
        input=question + "\n\n" + "\n".join(lines),
        target=LETTERS[order.index(0)],
        metadata=metadata,
    )


def from_raw(record: Mapping[str, Any], *, shuffle_options: bool = True, seed: int = 0) -> Sample:
    """A raw hub record straight to the presented sample."""
    return present(to_stored(record), LoadOptions(shuffle_options=shuffle_options, seed=seed))


BENCHMARK = Benchmark(
    name="gpqa_diamond",
    hub=HubSource(HUB_PATH, HUB_CONFIG, HUB_SPLIT),
    to_stored=to_stored,
    present=present,
    required_metadata=("question", "correct_answer", "incorrect_answers"),
    expected_size=EXPECTED_SIZE,
)
