"""CommonGen: which required concepts a generated text uses, matched through lemmas and inflections.

A concept word is used when a whole word of the text is the concept itself, one of the concept's
inflections (axe -> axes, jean -> jeans), or a word whose lemma candidates, for any part of
speech, include the concept (bases -> base or basis, biking -> bike, ran -> run). Words outside
lemminflect's dictionary get its spelling rules for nouns and verbs (frisbees -> frisbee). Only
whole words count: "hotdog" does not use "dog", "forest" does not use "rest".
"""

from __future__ import annotations

import functools
import re
import threading
from types import ModuleType

from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.text import strip_reasoning

# Letters only, so "dog's" gives "dog" and "ice-cream" gives "ice" and "cream".
WORD = re.compile(r"[^\W\d_]+")
# Some CommonGen dumps tag concepts with their part of speech: dog_N, run_V.
POS_SUFFIX = re.compile(r"_(?:[NVAR]|NOUN|VERB|ADJ|ADV)$")
RULE_CLASSES = ("NOUN", "VERB")  # the parts of speech whose spelling rules unknown words get
_load_lock = threading.Lock()


@functools.cache
def _load_lemminflect() -> ModuleType:
    import lemminflect

    lemminflect.getAllLemmas("warm")  # the first lookup reads the dictionaries; do it once, here
    return lemminflect


def _lemminflect() -> ModuleType:
    # Imported on first use, never at import; the lock keeps concurrent first calls to one load.
    with _load_lock:
        return _load_lemminflect()


@functools.lru_cache(maxsize=65536)
def word_lemmas(word: str) -> frozenset[str]:
    """The lowercase word and every lemma it may have, for any part of speech."""
    lemminflect = _lemminflect()
    by_class = lemminflect.getAllLemmas(word)
    if not by_class:
        # Unknown to the dictionary: the rules only, so a known word never gets a far-fetched lemma.
        by_class = {upos: lemminflect.getAllLemmasOOV(word, upos) for upos in RULE_CLASSES}
    return frozenset({word}.union(*by_class.values()))


@functools.lru_cache(maxsize=65536)
def concept_forms(word: str) -> frozenset[str]:
    """The lowercase concept word and all its inflections (plural, past, -ing, 3rd person...)."""
    lemminflect = _lemminflect()
    by_tag = dict(lemminflect.getAllInflections(word))
    if not by_tag:
        for upos in RULE_CLASSES:
            by_tag.update(lemminflect.getAllInflectionsOOV(word, upos))
    return frozenset({word}.union(*by_tag.values()))


def text_words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def concept_words(concept: str) -> list[str]:
    return WORD.findall(POS_SUFFIX.sub("", concept.strip()).lower())


def word_used(word: str, words: set[str], lemmas: set[str]) -> bool:
    return word in lemmas or not concept_forms(word).isdisjoint(words)


def concept_coverage(text: str, concepts: list[str]) -> tuple[list[str], list[str]]:
    """(covered, missing) concepts, each list in the given order.

    A multi-word concept ("ice cream") is covered when each of its words is used.
    """
    words = text_words(text)
    lemmas: set[str] = set().union(*(word_lemmas(word) for word in words))
    covered: list[str] = []
    missing: list[str] = []
    for concept in concepts:
        parts = concept_words(concept)
        used = bool(parts) and all(word_used(part, words, lemmas) for part in parts)
        (covered if used else missing).append(concept)
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
