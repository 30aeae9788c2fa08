"""CommonGen: which required concepts a generated text uses, matched by lemma (ran -> run)."""

from __future__ import annotations

import functools
import re
import threading
from typing import TYPE_CHECKING

from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.text import strip_reasoning

if TYPE_CHECKING:
    from spacy.language import Language

FULL_PIPELINE = "en_core_web_sm"
POS_SUFFIX = re.compile(r"_[A-Za-z]+$")  # some CommonGen dumps tag concepts as dog_N, run_V
_pipeline_lock = threading.Lock()


@functools.cache
def _load_pipeline() -> Language:
    import spacy

    if spacy.util.is_package(FULL_PIPELINE):
        # A trained pipeline lemmatizes by part of speech; the parser and NER are not needed.
        return spacy.load(FULL_PIPELINE, exclude=["parser", "ner"])
    # Offline fallback: the lookup table from spacy-lookups-data, no model download.
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    return nlp


def _pipeline() -> Language:
    # Loaded on first use, never at import; the lock keeps concurrent first calls to one load.
    with _pipeline_lock:
        return _load_pipeline()


def _lemma_forms(text: str) -> set[str]:
    """Every lowercased token and its lemma (the lookup table only knows lowercase words)."""
    forms: set[str] = set()
    for token in _pipeline()(text.lower()):
        if token.is_alpha:
            forms.update((token.text, token.lemma_.lower()))
    return forms


def _concept_words(concept: str) -> list[str]:
    return POS_SUFFIX.sub("", concept.strip()).lower().replace("_", " ").split()


def _covered(concept: str, text_forms: set[str]) -> bool:
    words = _concept_words(concept)
    if not words:
        return False
    # Every word of the concept must appear, as itself or via a shared lemma.
    return all(word in text_forms or _lemma_forms(word) & text_forms for word in words)


def concept_coverage(text: str, concepts: list[str]) -> tuple[list[str], list[str]]:
    """(covered, missing) concepts, each list in the given order."""
    text_forms = _lemma_forms(text)
    covered = [concept for concept in concepts if _covered(concept, text_forms)]
    missing = [concept for concept in concepts if concept not in covered]
    return covered, missing


def grade_concept_coverage(response: str, concepts: list[str]) -> Grade:
    """Score = fraction of concepts used; CORRECT only when every concept is used."""
    text = strip_reasoning(response).strip()
    if not text:
        return Grade(status=GradeStatus.NO_ANSWER, score=0.0, detail="empty response")
    if not concepts:
        return Grade(status=GradeStatus.ERROR, score=0.0, detail="the sample lists no concepts")
    covered, missing = concept_coverage(text, concepts)
    score = len(covered) / len(concepts)
    status = GradeStatus.CORRECT if not missing else GradeStatus.INCORRECT
    detail = f"missing: {', '.join(missing)}" if missing else f"all {len(concepts)} concepts used"
    return Grade(status=status, score=score, extracted=text, detail=detail)
