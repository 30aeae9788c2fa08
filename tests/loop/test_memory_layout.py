"""What each agent sees of the discussion: windows, broadcasts and critic visibility (our `turns` layout),
and the two research layouts, through the real client and a fake server."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from agentverse.agents.memory import Memory, Message, lay_out
from agentverse.environments.tasksolving.environment import ProblemResult, TaskSolvingEnvironment
from agentverse.llms.client import LLMClient
from agentverse.testing.fake_server import FakeOpenAIServer, FakeReply, ScriptedResponder
from dataloader.base import Sample
from tests.conftest import fake_config

MATH = "tasksolving/math500/smollm2"
SAMPLE = Sample(id="p1", input="What is 6 * 7?", target="42")
TWO_CRITICS = (
    "### Decision: <Continue>\n### Recruit Number: 3\n### Direction: Verify the product.\n### Maximum Tokens: 128"
)
WRONG = "### Correctness: 0\n### Advice: Recheck.\n### Recruiting Suggestion: None."
DRAFTS = [
    f"Draft {word}: the answer is \\boxed{{{index}}}." for index, word in enumerate(["one", "two", "three", "four"])
]
SOLVER_ROLE = "A mathematician specialized in algebra"
FIRST_CRITIC = "A reviewer specialized in proofs"
SECOND_CRITIC = "A tester specialized in checks"
EXPERTS = f"1. {SOLVER_ROLE}\n2. {FIRST_CRITIC}\n3. {SECOND_CRITIC}"


def numbered_critiques() -> Any:
    counter = itertools.count(1)

    def reply(payload: dict[str, Any]) -> FakeReply:
        return FakeReply(f"Critique number {next(counter)}:\n\n\nthe product is wrong. [Disagree]")

    return reply


async def solve(responder: ScriptedResponder, **overrides: Any) -> ProblemResult:
    async with FakeOpenAIServer(responder) as fake:
        config = fake_config(MATH, [fake.base_url], **{"environment.max_turn": 1, **overrides})
        llm = LLMClient.from_config(config.llm)
        try:
            return await TaskSolvingEnvironment(config, llm).solve(SAMPLE)
        finally:
            await llm.aclose()


def history_text(payload: dict[str, Any]) -> str:
    """Everything sent except the system prompt."""
    return "\n".join(message["content"] for message in payload["messages"][1:])


def never_agreeing() -> ScriptedResponder:
    critic = [numbered_critiques()]
    return ScriptedResponder(
        ceo=[TWO_CRITICS], role_assigner=[EXPERTS], solver=list(DRAFTS), critic=critic, evaluator=[WRONG]
    )


async def test_solver_window_keeps_its_last_five_messages() -> None:
    responder = never_agreeing()
    await solve(responder)
    solver_calls = responder.payloads["solver"]
    assert len(solver_calls) == 4  # a draft and three revisions; the last one is never reviewed
    # Memory: CEO, draft 1, 2 critiques, draft 2, 2 critiques, draft 3, 2 critiques; the window keeps 5.
    sent = history_text(solver_calls[-1])
    assert "Draft three" in sent and "Critique number 5" in sent and "Critique number 6" in sent
    assert "Draft one" not in sent and "Draft two" not in sent and "[CEO]" not in sent
    assert "Critique number 3" in sent and "Critique number 2" not in sent


async def test_window_all_sends_the_whole_discussion() -> None:
    responder = never_agreeing()
    await solve(responder)  # the shipped window first, for contrast
    windowed = len(history_text(responder.payloads["solver"][-1]))
    unlimited = never_agreeing()
    await solve_with_window(unlimited, "all")
    sent = history_text(unlimited.payloads["solver"][-1])
    assert "Draft one" in sent and "[CEO]: Verify the product." in sent and "Critique number 1" in sent
    assert len(sent) > windowed


async def solve_with_window(responder: ScriptedResponder, window: int | str, **overrides: Any) -> ProblemResult:
    async with FakeOpenAIServer(responder) as fake:
        config = fake_config(MATH, [fake.base_url], **{"environment.max_turn": 1, **overrides})
        agents = [
            agent.model_copy(update={"memory": agent.memory.model_copy(update={"window": window})})
            if agent.agent_type == "solver"
            else agent
            for agent in config.agents
        ]
        config = config.model_copy(update={"agents": agents})
        llm = LLMClient.from_config(config.llm)
        try:
            return await TaskSolvingEnvironment(config, llm).solve(SAMPLE)
        finally:
            await llm.aclose()


async def test_critics_see_each_others_critiques() -> None:
    responder = never_agreeing()
    await solve(responder)
    second_turn = responder.payloads["critic"][2:4]
    for payload in second_turn:
        own, other = (
            (FIRST_CRITIC, SECOND_CRITIC)
            if FIRST_CRITIC in payload["messages"][0]["content"]
            else (
                SECOND_CRITIC,
                FIRST_CRITIC,
            )
        )
        sent = history_text(payload)
        # Both turn-1 critiques are there, the other's attributed to its author; its own is its assistant
        # turn, unless it opens the window (a conversation opens with the user: then it is quoted too).
        assert sent.count("Critique number") == 2 and f"[{other}]: Critique number" in sent
        messages = payload["messages"]
        assert messages[1]["role"] == "user"
        own_turns = [m for m in messages if m["role"] == "assistant" and m["content"].startswith("Critique number")]
        assert len(own_turns) == (0 if messages[1]["content"].startswith(f"[{own}]:") else 1)
        assert "\n\n\nthe product" not in sent  # newline runs collapsed, as the research code does
        assert "wrong. [Disagree]" not in sent  # the tag is removed from what the team sees


async def test_critics_see_only_their_own_critique_when_sharing_is_off() -> None:
    responder = never_agreeing()
    await solve(responder, **{"environment.rule.decision_maker.share_critiques": False})
    for payload in responder.payloads["critic"][2:4]:
        assert history_text(payload).count("Critique number") == 1
    # The solver still hears both.
    assert history_text(responder.payloads["solver"][1]).count("Critique number") == 2


async def test_agreements_are_not_broadcast() -> None:
    agreeing_once = iter(["Looks right to me. [Agree]"])

    def critic(payload: dict[str, Any]) -> FakeReply:
        system = payload["messages"][0]["content"]
        if FIRST_CRITIC in system:
            return FakeReply(next(agreeing_once, "Looks right to me. [Agree]"))
        return FakeReply("Critique from the tester. [Disagree]")

    responder = ScriptedResponder(
        ceo=[TWO_CRITICS], role_assigner=[EXPERTS], solver=list(DRAFTS), critic=[critic], evaluator=[WRONG]
    )
    await solve(responder)
    revision = history_text(responder.payloads["solver"][1])
    assert "Critique from the tester." in revision and "Looks right to me" not in revision


async def test_turns_layout_alternates_with_own_drafts_as_assistant_turns() -> None:
    responder = never_agreeing()
    await solve(responder)
    revision = responder.payloads["solver"][1]["messages"]
    assert [message["role"] for message in revision] == ["system", "user", "assistant", "user"]
    assert revision[1]["content"] == "[CEO]: Verify the product."
    assert revision[2]["content"] == DRAFTS[0]  # its own draft, not attributed
    critiques = revision[3]["content"].split("\n\n# Problem")[0]
    assert critiques.startswith(f"[{FIRST_CRITIC}]: Critique number") or critiques.startswith(f"[{SECOND_CRITIC}]:")
    # A critic sees the draft as a teammate's message, attributed to the solver's expert role.
    first_review = responder.payloads["critic"][0]["messages"]
    expected = f"[CEO]: Verify the product.\n\n[{SOLVER_ROLE}]: {DRAFTS[0]}\n\n# Problem"
    assert first_review[1]["content"].startswith(expected)


HISTORY = [Message("CEO", "Go."), Message("Expert A", "Draft.", source="Solver"), Message("Expert B", "No.")]


def test_research_api_layout_sends_every_message_as_an_attributed_assistant_message() -> None:
    messages = lay_out("research-api", "System.", HISTORY, "Prompt.", "Solver")
    assert messages == [
        {"role": "system", "content": "System."},
        {"role": "assistant", "content": "[CEO]: Go."},
        {"role": "assistant", "content": "[Expert A]: Draft."},
        {"role": "assistant", "content": "[Expert B]: No."},
        {"role": "user", "content": "Prompt."},
    ]


def test_research_local_layout_flattens_the_history_into_the_user_message() -> None:
    messages = lay_out("research-local", "System.", HISTORY, "Prompt.", "Solver")
    expected = (
        "Here is the chat history: <history>\n\n\n[CEO]: Go.\n\n[Expert A]: Draft.\n\n[Expert B]: No.\n\n"
        "</history>\n\n\nPrompt."
    )
    assert messages == [{"role": "system", "content": "System."}, {"role": "user", "content": expected}]
    assert lay_out("research-local", "System.", [], "Prompt.", "Solver")[1] == {"role": "user", "content": "Prompt."}


@pytest.mark.parametrize("layout", ["turns", "research-api", "research-local"])
def test_empty_system_or_prompt_is_left_out(layout: Any) -> None:
    assert lay_out(layout, "", [], "Prompt.", "Solver") == [{"role": "user", "content": "Prompt."}]
    assert lay_out(layout, "System.", [], "", "Solver") == [{"role": "system", "content": "System."}]


def test_turns_layout_never_opens_with_an_assistant_turn() -> None:
    history = [Message("Expert A", "My draft.", source="Solver"), Message("Expert B", "No.")]
    messages = lay_out("turns", "System.", history, "Prompt.", "Solver")
    assert [message["role"] for message in messages] == ["system", "user"]
    assert messages[1]["content"] == "[Expert A]: My draft.\n\n[Expert B]: No.\n\nPrompt."


def test_memory_window() -> None:
    memory = Memory(window=2, messages=list(HISTORY))
    assert [message.content for message in memory.recent()] == ["Draft.", "No."]
    assert Memory(window=0, messages=list(HISTORY)).recent() == []
    assert len(Memory(window=None, messages=list(HISTORY)).recent()) == 3


async def test_bare_disagreements_give_nothing_to_revise() -> None:
    """Critics that only say [Disagree] leave no critique: the discussion ends, as in the research code."""
    responder = ScriptedResponder(
        ceo=[TWO_CRITICS], role_assigner=[EXPERTS], solver=list(DRAFTS), critic=["[Disagree]"], evaluator=[WRONG]
    )
    result = await solve(responder)
    assert responder.count("solver") == 1 and responder.count("critic") == 2
    assert result.status == "ok" and "Draft one" in (result.final_answer or "")
