"""Multiple-choice answers (GPQA): the option letter the response commits to.

Only explicit commitments count: a boxed letter, "Answer: C", "the answer is (C)". A capital
letter in prose ("A quick check...") is never taken as an answer. The last commitment wins.
"""

from __future__ import annotations

import re

from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.math import extract_boxed
from agentverse.graders.text import strip_reasoning

LETTERS = "ABCD"
# A letter standing alone, possibly wrapped as (C), [C], **C**, C. or \text{C}.
LETTER = r"[\(\[\*\s]*([A-D])[\)\]\*]*(?![A-Za-z0-9])"
ANSWER_PHRASES = re.compile(
    r"(?:answer|choice|option)\s*(?:is|:)\s*(?:option\s*)?(?:\\text\{)?"
    + LETTER
    + r"|answer\s*(?:is)?\s*[:：]\s*"
    + LETTER,
    re.IGNORECASE,
)
BOXED_LETTER = re.compile(r"^\s*(?:\\text(?:bf)?\{)?\s*\(?([A-D])\)?\s*\}?\s*$")


def _boxed_choice(text: str) -> tuple[int, str] | None:
    """(position, letter) of the last boxed answer if it is a bare option letter."""
    position = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if position < 0:
        return None
    content = extract_boxed(text[position:])
    match = BOXED_LETTER.match(content or "")
    return (position, match.group(1)) if match else None


def _phrase_choice(text: str) -> tuple[int, str] | None:
    matches = list(ANSWER_PHRASES.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    letter = last.group(1) or last.group(2)
    # Case-insensitive phrases, but the letter itself must be a capital: "the answer is a"
    # is prose, not option A.
    return (last.start(), letter) if letter in LETTERS else None


def extract_choice(text: str) -> str | None:
    """The last option letter the text commits to, or None."""
    found = [choice for choice in (_boxed_choice(text), _phrase_choice(text)) if choice is not None]
    if not found:
        return None
    return max(found)[1]


def grade_multiple_choice(response: str, target: str) -> Grade:
    extracted = extract_choice(strip_reasoning(response))
    if extracted is None:
        return Grade(status=GradeStatus.NO_ANSWER, score=0.0, detail="no option letter committed to")
    if extracted == target.strip().upper():
        return Grade(status=GradeStatus.CORRECT, score=1.0, extracted=extracted)
    return Grade(
        status=GradeStatus.INCORRECT, score=0.0, extracted=extracted, detail=f"expected {target}, got {extracted}"
    )
