"""Multiple-choice answers (GPQA): the option letter the response commits to.

Only explicit commitments count: a boxed letter, "Answer: C", "the answer is (C)". A capital
letter in prose ("A quick check...") is never taken as an answer. The last commitment wins.

A commitment names every letter joined to its first one by "or", "and", a comma or a slash
("the answer is (C) or (D)", "Answer: C and D", "\\boxed{C, D}"); naming more than one distinct
letter is a hedge and earns no credit. The commitment ends where that list ends, so a new
sentence or clause ("Answer: C. D is wrong because...", "C, not D", "C and D is wrong") names
nothing more.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.math import BOX_COMMAND, extract_boxed
from agentverse.graders.text import strip_reasoning

LETTERS = "ABCD"
# A letter standing alone, possibly wrapped as (C), [C], **C**, C. or \text{C}.
LETTER = r"[\(\[\*\s]*([A-D])[\)\]\*]*(?![A-Za-z0-9])"
ANSWER_PHRASES = re.compile(
    r"(?:answer|choice|option)\s*(?:is|:)\s*(?:either\s+)?(?:option\s*)?(?:\\text\{)?"
    + LETTER
    + r"|answer\s*(?:is)?\s*[:：]\s*(?:either\s+)?"
    + LETTER,
    re.IGNORECASE,
)
# One more letter joined to the previous one: ", D", " or (D)", " and/or D", " (or possibly D)", "/D".
# Case-sensitive letters: "Answer: C and a bit of luck" joins nothing.
JOINED_LETTER = re.compile(
    r"\s*\(?\s*(?P<joint>[,/&+]|\b(?i:and/or|and|or)\b)"
    r"(?:\s*\b(?i:or|and|perhaps|possibly|maybe|also|even|option|choice)\b)*"
    r"\s*(?:\\text\{\s*)?" + LETTER
)
# "Answer: C and D is wrong": after "and" or a comma, a singular verb makes the letter the subject of
# a new clause. After "or" it does not: "C or D is correct" still hedges.
NEW_CLAUSE_VERB = re.compile(r"\s+(?:is|was|fails|does|doesn't|cannot|can't|has|violates|ignores)\b", re.IGNORECASE)
ADDING_JOINTS = frozenset({",", "&", "+", "and"})
# Inside a box: formatting wrappers and spacing commands that never change which letter is meant.
BOX_FORMATTING = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
BOX_SPACING = re.compile(r"\\(?:quad|qquad|[,;:! ])")
BOX_LETTER = re.compile(r"(?<![A-Za-z\\])([A-D])(?![A-Za-z])")
# What may sit between the letters of a boxed answer: brackets, separators and linking words.
BOX_FILLER = re.compile(r"(?:[\s(),/&+.;:*\[\]]|\b(?i:and/or|and|or|option|options|choice)\b)*")
# Between two boxes of one answer ("\\boxed{C} or $\\boxed{D}$"): the closing brace, a joining word.
BOXES_JOINED = re.compile(r"[\s}$]*(?:\b(?i:and/or|and|or)\b|[,/&])[\s$]*")


class Commitment(NamedTuple):
    """Where a commitment starts and the distinct letters it names, in order."""

    position: int
    letters: tuple[str, ...]


def distinct(letters: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(letters))


def boxed_letters(content: str) -> tuple[str, ...] | None:
    """The letters a box holds when it holds nothing but option letters ("C", "(C) or (D)")."""
    plain = BOX_SPACING.sub(" ", content)
    while BOX_FORMATTING.search(plain):
        plain = BOX_FORMATTING.sub(r" \1 ", plain)
    letters = BOX_LETTER.findall(plain)
    if not letters or not BOX_FILLER.fullmatch(BOX_LETTER.sub(" ", plain)):
        return None
    return distinct(letters)


def boxed_answers(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end of content, letters) of every box that holds only option letters."""
    starts = [match.start() for match in BOX_COMMAND.finditer(text)]
    ends = [*starts[1:], len(text)] if starts else []
    found: list[tuple[int, int, tuple[str, ...]]] = []
    for start, end in zip(starts, ends, strict=True):
        # Each slice holds one box command, so extract_boxed reads that box and no later one.
        piece = text[start:end]
        content = extract_boxed(piece)
        letters = boxed_letters(content) if content else None
        if content and letters is not None:
            found.append((start, start + piece.find(content) + len(content), letters))
    return found


def boxed_commitment(text: str) -> Commitment | None:
    """The last boxed answer that is option letters; "\\boxed{C} or \\boxed{D}" counts as one."""
    found = boxed_answers(text)
    if not found:
        return None
    start, _, letters = found[-1]
    for previous_start, previous_end, previous_letters in reversed(found[:-1]):
        if not BOXES_JOINED.fullmatch(text[previous_end:start]):
            break
        start, letters = previous_start, distinct([*previous_letters, *letters])
    return Commitment(start, letters)


def phrase_commitment(text: str) -> Commitment | None:
    matches = list(ANSWER_PHRASES.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    letter = last.group(1) or last.group(2)
    # Case-insensitive phrases, but the letter itself must be a capital: "the answer is a"
    # is prose, not option A.
    if letter not in LETTERS:
        return None
    letters = [letter]
    end = last.end()
    while joined := JOINED_LETTER.match(text, end):
        if joined.group("joint").lower() in ADDING_JOINTS and NEW_CLAUSE_VERB.match(text, joined.end()):
            break
        letters.append(joined.group(2))  # group 1 is the joint
        end = joined.end()
    return Commitment(last.start(), distinct(letters))


def final_commitment(text: str) -> Commitment | None:
    """The last commitment of the text, boxed or in words."""
    found = [choice for choice in (boxed_commitment(text), phrase_commitment(text)) if choice is not None]
    return max(found, key=lambda commitment: commitment.position) if found else None


def extract_choice(text: str) -> str | None:
    """The option letter the text finally commits to; None when it commits to none or to several."""
    commitment = final_commitment(text)
    return commitment.letters[0] if commitment is not None and len(commitment.letters) == 1 else None


def grade_multiple_choice(response: str, target: str) -> Grade:
    commitment = final_commitment(strip_reasoning(response))
    if commitment is None:
        return Grade(status=GradeStatus.NO_ANSWER, score=0.0, detail="no option letter committed to")
    if len(commitment.letters) > 1:
        named = ", ".join(commitment.letters)
        return Grade(
            status=GradeStatus.NO_ANSWER, score=0.0, detail=f"the final answer names several options ({named})"
        )
    extracted = commitment.letters[0]
    if extracted == target.strip().upper():
        return Grade(status=GradeStatus.CORRECT, score=1.0, extracted=extracted)
    return Grade(
        status=GradeStatus.INCORRECT, score=0.0, extracted=extracted, detail=f"expected {target}, got {extracted}"
    )
