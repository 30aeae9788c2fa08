#!/usr/bin/env python
"""How many inflected forms of CommonGen-style concepts the CommonGen grader recognises.

The table: for each concept in tests/fixtures/data/commongen_concepts.json, every plural, past,
past participle, -ing and 3rd-person form in lemminflect's dictionary (for a concept outside it,
the plural its spelling rules give), plus the forms listed there that an earlier grader missed.
Each form is put in a short sentence and graded against its concept alone.

Usage: python benchmarks/bench_commongen_inflections.py [--show-misses]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TABLE_PATH = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "data" / "commongen_concepts.json"
# Penn tags of the forms the target counts: plural nouns, past, past participle, -ing, 3rd person.
INFLECTION_TAGS = ("NNS", "VBD", "VBN", "VBG", "VBZ")
SENTENCE = "In the picture we see {form} near the old house."


def inflected_forms(concept: str) -> set[str]:
    """The concept's inflections as lemminflect gives them, without the concept itself."""
    from lemminflect import getAllInflections, getAllInflectionsOOV

    by_tag = dict(getAllInflections(concept))
    if not by_tag:
        # Not in lemminflect's dictionary (frisbee, skateboarder): such concepts are nouns, so
        # the plural from its spelling rules (its verb rules would invent "frisbeed").
        by_tag = dict(getAllInflectionsOOV(concept, "NOUN"))
    forms = {form for tag in INFLECTION_TAGS for form in by_tag.get(tag, ())}
    return forms - {concept}


def inflection_table(path: Path = TABLE_PATH) -> list[tuple[str, str]]:
    """(concept, inflected form) pairs, sorted, without duplicates."""
    data = json.loads(path.read_text(encoding="utf-8"))
    pairs = {(concept, form) for concept in data["concepts"] for form in inflected_forms(concept)}
    pairs.update((concept, form) for concept, form in data["explicit_forms"])
    return sorted(pairs)


def misses(table: list[tuple[str, str]]) -> list[tuple[str, str]]:
    from agentverse.graders.commongen import concept_coverage

    return [(concept, form) for concept, form in table if concept_coverage(SENTENCE.format(form=form), [concept])[1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true", help="list every form that was not recognised")
    arguments = parser.parse_args()
    table = inflection_table()
    missed = misses(table)
    concepts = len({concept for concept, _ in table})
    coverage = 1 - len(missed) / len(table)
    print(f"{len(table)} inflected forms of {concepts} concepts: {coverage:.2%} recognised, {len(missed)} missed")
    if arguments.show_misses:
        for concept, form in missed:
            print(f"  {concept}: {form}")


if __name__ == "__main__":
    main()
