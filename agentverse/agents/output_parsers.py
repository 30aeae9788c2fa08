"""Every agent's reply becomes a typed object here, and only here.

Parsers are lenient about layout (case, `###` or `**` markers, `<Continue>` or `Continue`,
extra spaces) and strict about meaning (a decision must be continue or stop, numbers must
be integers). A reply that cannot be read raises `ParseError` carrying the raw text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agentverse.registry import Registry


class ParseError(ValueError):
    """The reply does not follow the agent's protocol."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CEODecision(Frozen):
    decision: Literal["continue", "stop"]
    recruit_number: int
    direction: str
    max_tokens: int


class RoleList(Frozen):
    roles: list[str]


class Solution(Frozen):
    text: str


class CriticVerdict(Frozen):
    agree: bool
    review: str


class EvaluatorVerdict(Frozen):
    correct: bool
    advice: str
    recruiting_suggestion: str
    feedback: str = ""  # everything after `Advice:` (suggestion included): what the next round is told


ParsedOutput = CEODecision | RoleList | Solution | CriticVerdict | EvaluatorVerdict
Parser = Callable[[str, int], ParsedOutput]

PARSERS: Registry[Parser] = Registry("output_parser")

HEADER = r"(?:^|\n)[ \t]*[#*>\-\s]*\**[ \t]*{name}[ \t]*\**[ \t]*[:：]?[ \t]*\**[ \t]*"
NEXT_HEADER = r"(?=\n[ \t]*[#*]*[ \t]*\**[ \t]*(?:{names})[ \t]*\**[ \t]*[:：]|\Z)"


def field_text(text: str, name: str, all_names: list[str]) -> str | None:
    """The text after `### <name>:` up to the next known header (or the end)."""
    pattern = HEADER.format(name=name) + r"(.*?)" + NEXT_HEADER.format(names="|".join(all_names))
    matches = re.findall(pattern, text, flags=re.IGNORECASE | re.DOTALL)
    if not matches:
        return None
    return matches[-1].strip().strip("*").strip()


def strip_brackets(value: str) -> str:
    return value.strip().strip("<>[]()*`\"' ").strip()


def parse_integer(value: str | None, field: str, raw: str) -> int:
    if value is None:
        raise ParseError(f"missing field {field!r}", raw)
    match = re.search(r"\d[\d,]*", value)
    if not match:
        raise ParseError(f"field {field!r} is not an integer: {value[:60]!r}", raw)
    return int(match.group(0).replace(",", ""))


CEO_FIELDS = ["Decision", "Recruit Number", "Direction", "Maximum Tokens"]


@PARSERS.register("ceo")
def parse_ceo(text: str, expected: int = 0) -> CEODecision:
    decision_text = field_text(text, "Decision", CEO_FIELDS)
    if decision_text is None:
        raise ParseError("missing field 'Decision'", text)
    decision = strip_brackets(decision_text.splitlines()[0] if decision_text else "").lower()
    if decision not in ("continue", "stop"):
        raise ParseError(f"Decision must be Continue or Stop, got {decision_text[:40]!r}", text)
    direction = field_text(text, "Direction", CEO_FIELDS)
    if not direction:
        raise ParseError("missing or empty field 'Direction'", text)
    return CEODecision(
        decision=decision,  # type: ignore[arg-type]
        recruit_number=parse_integer(field_text(text, "Recruit Number", CEO_FIELDS), "Recruit Number", text),
        direction=direction,
        max_tokens=parse_integer(field_text(text, "Maximum Tokens", CEO_FIELDS), "Maximum Tokens", text),
    )


RESEARCH_CEO = re.compile(
    r"### Decision:(.+?)### Recruit Number:(.+?)### Direction:(.+?)### Maximum Tokens:(.+)", re.DOTALL
)


def int_or(value: str, default: int) -> int:
    try:
        return int(value.strip())
    except ValueError:
        return default


@PARSERS.register("research-ceo")
def parse_research_ceo(text: str, expected: int = 0) -> CEODecision:
    """The research code's CEO parser: the four headers in order; a number that is not an integer
    gives 2 recruits or 32000 tokens (the rule then clamps them)."""
    match = RESEARCH_CEO.search(text)
    if match is None:
        raise ParseError("the headers Decision, Recruit Number, Direction, Maximum Tokens are not there in order", text)
    decision, recruits, direction, tokens = match.groups()
    return CEODecision(
        decision="continue" if "continue" in decision.lower() else "stop",
        recruit_number=int_or(recruits, 2),
        direction=direction.strip(),
        max_tokens=int_or(tokens, 32000),
    )


ROLE_LINE = re.compile(r"^\s*(?:\*\*)?\s*(\d+)\s*[.)]\s*(?:\*\*)?\s*(.+?)\s*$", re.MULTILINE)


@PARSERS.register("role_assigner")
def parse_roles(text: str, expected: int) -> RoleList:
    """A numbered list, one expert per line; exactly `expected` are taken, in order."""
    # Blanks, then periods at either end are stripped, as the research code does.
    roles = [match.group(2).strip().strip("*").strip().strip(".") for match in ROLE_LINE.finditer(text)]
    roles = [role for role in roles if role]
    if len(roles) < expected:
        raise ParseError(f"expected {expected} numbered experts, found {len(roles)}", text)
    return RoleList(roles=roles[:expected])


@PARSERS.register("solver")
def parse_solution(text: str, expected: int = 0) -> Solution:
    if not text.strip():
        raise ParseError("empty solution", text)
    return Solution(text=text.strip())


CODE_BLOCK = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


@PARSERS.register("code-solver")
def parse_code_solution(text: str, expected: int = 0) -> Solution:
    """A code solution must contain a fenced code block holding a function definition."""
    blocks = CODE_BLOCK.findall(text)
    if not any("def " in block for block in blocks):
        raise ParseError("no ```python block with a function definition", text)
    return Solution(text=text.strip())


VERDICT = re.compile(r"\[\s*(agree|disagree)\s*\]", re.IGNORECASE)


@PARSERS.register("critic")
def parse_critic(text: str, expected: int = 0) -> CriticVerdict:
    """The last `[Agree]` / `[Disagree]` in the review decides."""
    verdicts = VERDICT.findall(text)
    if not verdicts:
        raise ParseError("the review ends with neither [Agree] nor [Disagree]", text)
    return CriticVerdict(agree=verdicts[-1].lower() == "agree", review=critique_text(text))


@PARSERS.register("research-critic")
def parse_research_critic(text: str, expected: int = 0) -> CriticVerdict:
    """The research code's critic parser: `[Agree]` anywhere agrees; anything else is a critique
    (it never fails)."""
    if "[Agree]" in collapse_newlines(text):
        return CriticVerdict(agree=True, review="")
    return CriticVerdict(agree=False, review=critique_text(text))


RESEARCH_CODE_BLOCK = re.compile(r"```.*?\n(.+?)```", re.DOTALL)


RESEARCH_ROLE = re.compile(r"\d\.\s*(.+)")


@PARSERS.register("research-role-assigner")
def parse_research_roles(text: str, expected: int) -> RoleList:
    """The research code's role parser: the text after every `digit.` (anywhere in a line), its
    blanks and then its periods at either end stripped; the first `expected` are taken."""
    roles = [role.strip().strip(".") for role in RESEARCH_ROLE.findall(text)]
    if len(roles) < expected:
        raise ParseError(f"expected {expected} experts, found {len(roles)}", text)
    return RoleList(roles=roles[:expected])


RESEARCH_CORRECTNESS = re.compile(r"(?:\d.\s*)?Correctness:\s*(\d)")
RESEARCH_ADVICE = re.compile(r"(?:\d.\s*)?Advice:\s*(.+)", re.DOTALL)


@PARSERS.register("research-evaluator")
def parse_research_evaluator(text: str, expected: int = 0) -> EvaluatorVerdict:
    """The research code's evaluator parser: newline runs collapsed; the first digit after
    `Correctness:` (0 or 1, anything else fails); everything after the first `Advice:`."""
    cleaned = collapse_newlines(text)
    correctness = RESEARCH_CORRECTNESS.search(cleaned)
    if correctness is None or correctness.group(1) not in ("0", "1"):
        raise ParseError("no Correctness: 0 or 1", text)
    advice = RESEARCH_ADVICE.search(cleaned)
    if advice is None:
        raise ParseError("no Advice:", text)
    feedback = advice.group(1).strip()
    return EvaluatorVerdict(
        correct=correctness.group(1) == "1", advice=feedback, recruiting_suggestion="", feedback=feedback
    )


@PARSERS.register("research-code-solver")
def parse_research_code_solution(text: str, expected: int = 0) -> Solution:
    """The research code's code solver: the solution is the body of the last fenced block."""
    blocks = RESEARCH_CODE_BLOCK.findall(text)
    if not blocks:
        raise ParseError("no complete fenced code block", text)
    return Solution(text=blocks[-1])


def critique_text(text: str) -> str:
    """A review as the team sees it: newline runs collapsed, the `[Disagree]` tag removed."""
    return collapse_newlines(text).replace("[Disagree]", "").strip()


EVALUATOR_FIELDS = ["Correctness", "Advice", "Recruiting Suggestion"]
# A bracketed value at the start of a field: "<1>", "[0]", but also the template's "<0 or 1>".
BRACKETED = re.compile(r"^\s*\**\s*[<\[{(]\s*([^>\]})]*?)\s*[>\]})]")
# Both values offered at once, as the template does: "0 or 1", "1/0", "0 | 1".
BOTH_VALUES = re.compile(r"^\s*\**\s*[01]\s*(?:or|/|\||,)\s*[01]\b", re.IGNORECASE)
# Advice that only restates the template's placeholder ("<your advice>", "[your advice here]").
ADVICE_PLACEHOLDER = re.compile(
    r"(?:(?:insert|write|put|give|enter)\s+)?(?:(?:your|the|an?|some|any)\s+)?"
    r"(?:advice|suggestions?|feedback)(?:\s+(?:here|goes\s+here))?[.:]?|[.…\s]*",
    re.IGNORECASE,
)


def correctness_value(correctness: str, raw: str) -> str:
    """The Correctness field's 0 or 1; an echo of the template's "<0 or 1>" is refused."""
    first_line = next((line for line in correctness.splitlines() if line.strip()), "")
    bracketed = BRACKETED.match(first_line)
    if bracketed:
        # A bracketed value must be the value alone: "<1>" is an answer, "<0 or 1>" the template.
        value = bracketed.group(1).strip("*` ")
        if value not in ("0", "1"):
            raise ParseError(f"Correctness is the template placeholder {first_line.strip()[:40]!r}", raw)
        return value
    if BOTH_VALUES.match(first_line):
        raise ParseError(f"Correctness offers both values ({first_line.strip()[:40]!r}) instead of 0 or 1", raw)
    value = strip_brackets(first_line.split()[0] if first_line.split() else "").rstrip(".,;")
    if value not in ("0", "1"):
        raise ParseError(f"Correctness must be 0 or 1, got {correctness[:40]!r}", raw)
    return value


def require_advice(advice: str | None, raw: str) -> str:
    if advice is None:
        raise ParseError("missing field 'Advice'", raw)
    if ADVICE_PLACEHOLDER.fullmatch(strip_brackets(advice).strip("{} ")):
        raise ParseError(f"Advice is empty or the template placeholder {advice[:40]!r}", raw)
    return advice


@PARSERS.register("evaluator")
def parse_evaluator(text: str, expected: int = 0) -> EvaluatorVerdict:
    correctness = field_text(text, "Correctness", EVALUATOR_FIELDS)
    if correctness is None:
        raise ParseError("missing field 'Correctness'", text)
    value = correctness_value(correctness, text)
    advice = require_advice(field_text(text, "Advice", EVALUATOR_FIELDS), text)
    return EvaluatorVerdict(
        correct=value == "1",
        advice=advice,
        recruiting_suggestion=field_text(text, "Recruiting Suggestion", EVALUATOR_FIELDS) or "",
        feedback=feedback_text(text),
    )


ADVICE_HEADER = re.compile(r"^[#*>\-\s]*\**[ \t]*Advice[ \t]*\**[ \t]*[:：]", re.IGNORECASE | re.MULTILINE)


def collapse_newlines(text: str) -> str:
    return re.sub(r"\n+", "\n", text).strip()


def feedback_text(text: str) -> str:
    """Everything after the first `Advice:` header, newline runs collapsed (as the research code
    passes it on: the recruiting suggestion comes with it)."""
    header = ADVICE_HEADER.search(text)
    return collapse_newlines(text[header.end() :]).lstrip("* ").strip() if header else ""
