"""Parsers: lenient about layout, strict about meaning (case tables)."""

from __future__ import annotations

import pytest

from agentverse.agents.output_parsers import (
    PARSERS,
    ParseError,
    parse_ceo,
    parse_code_solution,
    parse_critic,
    parse_evaluator,
    parse_roles,
    parse_solution,
)
from agentverse.environments.tasksolving.rules.ceo import snap_to_menu
from agentverse.llms.client import split_reasoning

CEO_CASES = [
    (
        "### Decision: <Continue>\n### Recruit Number: 3\n### Direction: Fix step 2.\n### Maximum Tokens: 8192",
        ("continue", 3, "Fix step 2.", 8192),
    ),
    (
        "**Decision:** Stop\n**Recruit Number:** <2>\n**Direction:** done\n**Maximum Tokens:** 4,096",
        ("stop", 2, "done", 4096),
    ),
    (
        "decision: continue\nrecruit number: 4\ndirection: check\nthe units\nmaximum tokens: 16384 tokens",
        ("continue", 4, "check\nthe units", 16384),
    ),
    (
        "Thinking first...\n### Decision: <Stop>\n### Recruit Number: 2\n"
        "### Direction: ok\n### Maximum Tokens: <32000>",
        ("stop", 2, "ok", 32000),
    ),
]


@pytest.mark.parametrize(("text", "expected"), CEO_CASES)
def test_ceo_layouts(text: str, expected: tuple[str, int, str, int]) -> None:
    decision = parse_ceo(text)
    assert (decision.decision, decision.recruit_number, decision.direction, decision.max_tokens) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("### Decision: Maybe\n### Recruit Number: 2\n### Direction: x\n### Maximum Tokens: 10", "Continue or Stop"),
        ("### Decision: Continue or Stop\n### Recruit Number: 2\n### Direction: x\n### Maximum Tokens: 10", "Continue"),
        ("### Decision: Continue\n### Recruit Number: two\n### Direction: x\n### Maximum Tokens: 10", "integer"),
        ("### Decision: Continue\n### Recruit Number: 2\n### Maximum Tokens: 10", "Direction"),
        ("### Decision: Continue\n### Recruit Number: 2\n### Direction: x", "Maximum Tokens"),
        ("I would continue with three people.", "Decision"),
    ],
)
def test_ceo_rejects_bad_meaning(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_ceo(text)
    assert reason in str(caught.value) and caught.value.raw == text


def test_roles_numbered_list() -> None:
    text = "Here is the team:\n1. A chemist specialized in kinetics\n2) **A physicist**\n3. A statistician"
    assert parse_roles(text, 2).roles == ["A chemist specialized in kinetics", "A physicist"]
    with pytest.raises(ParseError, match="expected 4"):
        parse_roles(text, 4)


@pytest.mark.parametrize(
    ("text", "agree"),
    [
        ("Looks right. [Agree]", True),
        ("Step 3 is wrong. [Disagree]", False),
        ("I first thought [Disagree] but on reflection **[agree]**", True),
        ("[ Disagree ]", False),
    ],
)
def test_critic_last_verdict_wins(text: str, agree: bool) -> None:
    assert parse_critic(text).agree is agree


def test_critic_without_verdict_fails() -> None:
    with pytest.raises(ParseError):
        parse_critic("I agree with the solution.")


def test_evaluator() -> None:
    verdict = parse_evaluator("### Correctness: 1\n### Advice: Good.\n### Recruiting Suggestion: A number theorist")
    assert verdict.correct and verdict.advice == "Good." and verdict.recruiting_suggestion == "A number theorist"
    assert not parse_evaluator("Correctness: <0>\nAdvice: redo step 2").correct
    with pytest.raises(ParseError, match="0 or 1"):
        parse_evaluator("### Correctness: maybe\n### Advice: x")
    with pytest.raises(ParseError, match="Advice"):
        parse_evaluator("### Correctness: 1")


EVALUATOR_ACCEPTED = [
    # (reply, correct, advice)
    ("### Correctness: 1\n### Advice: Good.", True, "Good."),
    ("### Correctness: <1>\n### Advice: <Check the units in step 3.>", True, "<Check the units in step 3.>"),
    ("### Correctness: **0**\n### Advice: Redo the integral.", False, "Redo the integral."),
    ("### Correctness: 1.\n### Advice: Fine as it is.", True, "Fine as it is."),
    ("### Correctness: 0 (the sign is wrong)\n### Advice: Flip the sign.", False, "Flip the sign."),
    (
        "### Correctness: 1\n### Advice: None needed; the solution is correct.",
        True,
        "None needed; the solution is correct.",
    ),
    ("### Correctness: [0]\n### Advice: The answer should be 12, not 10.", False, "The answer should be 12, not 10."),
]


@pytest.mark.parametrize(("reply", "correct", "advice"), EVALUATOR_ACCEPTED)
def test_evaluator_accepts_real_verdicts(reply: str, correct: bool, advice: str) -> None:
    verdict = parse_evaluator(reply)
    assert (verdict.correct, verdict.advice) == (correct, advice)


EVALUATOR_TEMPLATE_ECHOES = [
    # (reply, what the error names)
    (
        "### Correctness: <0 or 1>\n### Advice: <your advice>\n### Recruiting Suggestion: <which experts to recruit>",
        "Correctness",
    ),
    ("### Correctness: <0 or 1>\n### Advice: Check step 2.", "Correctness"),
    ("### Correctness: 0 or 1\n### Advice: Check step 2.", "Correctness"),
    ("### Correctness: 0/1\n### Advice: Check step 2.", "Correctness"),
    ("### Correctness: [0 | 1]\n### Advice: Check step 2.", "Correctness"),
    ("### Correctness: <1 if correct, else 0>\n### Advice: Check step 2.", "Correctness"),
    ("### Correctness: <correctness>\n### Advice: Check step 2.", "Correctness"),
    ("### Correctness: 1\n### Advice: <your advice>", "Advice"),
    ("### Correctness: 1\n### Advice: <advice>", "Advice"),
    ("### Correctness: 0\n### Advice: [your advice here]", "Advice"),
    ("### Correctness: 0\n### Advice: (your advice)", "Advice"),
    ("### Correctness: 0\n### Advice: {advice}", "Advice"),
    ("### Correctness: 0\n### Advice: Your advice here", "Advice"),
    ("### Correctness: 0\n### Advice: ...", "Advice"),
    ("### Correctness: 0\n### Advice:\n### Recruiting Suggestion: a chemist", "Advice"),
]


@pytest.mark.parametrize(("reply", "field"), EVALUATOR_TEMPLATE_ECHOES)
def test_evaluator_rejects_an_echoed_template(reply: str, field: str) -> None:
    with pytest.raises(ParseError, match=field) as caught:
        parse_evaluator(reply)
    assert caught.value.raw == reply


def test_solutions() -> None:
    assert parse_solution("  \\boxed{3} ").text == "\\boxed{3}"
    with pytest.raises(ParseError):
        parse_solution(" \n ")
    assert parse_code_solution("```python\ndef f():\n    return 1\n```").text.startswith("```")
    with pytest.raises(ParseError):
        parse_code_solution("def f(): return 1")


@pytest.mark.parametrize(("value", "snapped"), [(4096, 4096), (5000, 4096), (7000, 8192), (1, 2048), (10**6, 32000)])
def test_snap_to_menu(value: int, snapped: int) -> None:
    assert snap_to_menu(value, [2048, 4096, 8192, 16384, 32000]) == snapped


def test_split_reasoning() -> None:
    assert split_reasoning("<think>a</think>b</think> final") == ("a</think>b", "final")
    assert split_reasoning("plain") == (None, "plain")


# The research code's parsers, as the importer maps them: their readings, including where ours differ.
@pytest.mark.parametrize(
    ("reply", "correct", "feedback"),
    [
        (
            "### Correctness: 1\n### Advice: Fine.\n### Recruiting Suggestion: None.",
            True,
            "Fine.\n### Recruiting Suggestion: None.",
        ),
        ("Correctness: 0 at first... ### Correctness: 1\nAdvice: redo", False, "redo"),  # the first one counts
        ("### Correctness: 1\n\n\n### Advice: <your advice>", True, "<your advice>"),  # accepted as written
        ("### Correctness: 10\n### Advice: x", True, "x"),  # one digit is read
    ],
)
def test_research_evaluator_reads_like_the_research_code(reply: str, correct: bool, feedback: str) -> None:
    verdict = PARSERS.get("research-evaluator")(reply, 0)
    assert verdict.correct is correct and verdict.feedback == feedback


@pytest.mark.parametrize(
    "reply", ["### Correctness: [1]\n### Advice: x", "### Correctness: 7\n### Advice: x", "Correctness: 1"]
)
def test_research_evaluator_refuses_what_the_research_code_retries(reply: str) -> None:
    with pytest.raises(ParseError):
        PARSERS.get("research-evaluator")(reply, 0)


def test_research_role_assigner_takes_every_numbered_item_as_written() -> None:
    reply = "Experts:\n1. **Algebraist**: equations.\n2) not numbered like this\nAlso 2. A geometer.\n3.5 is a number"
    roles = PARSERS.get("research-role-assigner")(reply, 3).roles
    assert roles == ["**Algebraist**: equations", "A geometer", "5 is a number"]
    with pytest.raises(ParseError):
        PARSERS.get("research-role-assigner")("1. One expert", 2)


@pytest.mark.parametrize(
    ("reply", "agree", "review"),
    [
        ("Fine. [Agree] but also [Disagree]", True, ""),  # [Agree] anywhere
        ("No tag at all\n\n\nhere", False, "No tag at all\nhere"),  # never fails: a critique
        ("[Disagree]", False, ""),
    ],
)
def test_research_critic(reply: str, agree: bool, review: str) -> None:
    verdict = PARSERS.get("research-critic")(reply, 0)
    assert (verdict.agree, verdict.review) == (agree, review)


def test_research_ceo_defaults_for_numbers_it_cannot_read() -> None:
    reply = "### Decision: <Stop>\n### Recruit Number: two\n### Direction: Check.\n### Maximum Tokens: 4096 tokens"
    decision = PARSERS.get("research-ceo")(reply, 0)
    assert (decision.decision, decision.recruit_number, decision.max_tokens) == ("stop", 2, 32000)
    assert decision.direction == "Check."


def test_feedback_starts_at_the_advice_header_not_at_a_word_in_the_prose() -> None:
    reply = "### Correctness: 0\nMy advice: is below.\n### Advice: Recompute.\n### Recruiting Suggestion: None."
    assert PARSERS.get("evaluator")(reply, 0).feedback == "Recompute.\n### Recruiting Suggestion: None."
