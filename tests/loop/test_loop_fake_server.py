"""End-to-end runs of the task-solving loop through a real HTTP fake server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentverse.environments.tasksolving.environment import ProblemResult, TaskSolvingEnvironment
from agentverse.llms.client import LLMClient
from agentverse.testing.fake_server import FakeOpenAIServer, FakeReply, ScriptedResponder
from dataloader.base import Sample
from tests.conftest import fake_config

MATH = "tasksolving/math500/smollm2"
AIME = "tasksolving/aime2024/smollm2"
SAMPLE = Sample(id="p1", input="What is 6 * 7?", target="42")

CONTINUE = "### Decision: <Continue>\n### Recruit Number: 2\n### Direction: Verify.\n### Maximum Tokens: 128"
STOP = "### Decision: <Stop>\n### Recruit Number: 2\n### Direction: Done.\n### Maximum Tokens: 128"
WRONG = "### Correctness: 0\n### Advice: Recheck the product.\n### Recruiting Suggestion: An arithmetician."
RIGHT = "### Correctness: 1\n### Advice: Fine.\n### Recruiting Suggestion: None."
ATTEMPTS = fake_config(MATH, ["http://127.0.0.1:1/v1"]).agent("ceo").max_retry  # the same for every agent


async def run(
    responder: ScriptedResponder, task: str = MATH, servers: int = 1, sample: Sample = SAMPLE, **overrides: Any
) -> tuple[ProblemResult, list[FakeOpenAIServer]]:
    fakes = [FakeOpenAIServer(responder) for _ in range(servers)]
    for fake in fakes:
        await fake.start()
    config = fake_config(task, [fake.base_url for fake in fakes], **overrides)
    llm = LLMClient.from_config(config.llm)
    try:
        result = await TaskSolvingEnvironment(config, llm).solve(sample)
    finally:
        await llm.aclose()
        for fake in fakes:
            await fake.stop()
    return result, fakes


def requests_of(responder: ScriptedResponder, agent: str) -> list[dict[str, Any]]:
    return responder.payloads.get(agent, [])


async def test_ceo_stop_ends_after_round_one() -> None:
    responder = ScriptedResponder(ceo=[CONTINUE, STOP], evaluator=[WRONG])
    result, _ = await run(responder)
    assert result.termination == "ceo_stop"
    assert result.rounds == 1
    assert responder.count("ceo") == 2
    assert responder.count("role_assigner") == 1  # round 2 never recruited
    assert result.status == "ok" and "boxed{42}" in (result.final_answer or "")


async def test_ceo_stop_without_solution_is_ignored_and_recorded() -> None:
    responder = ScriptedResponder(ceo=[STOP], evaluator=[WRONG])
    result, _ = await run(responder)
    kinds = [event.detail.get("reason") for event in result.events if event.kind == "ceo_stop_ignored"]
    assert kinds[0] == "no solution yet"
    assert result.termination == "ceo_stop" and result.rounds == 1


async def test_honor_stop_false_reproduces_research_behaviour() -> None:
    responder = ScriptedResponder(ceo=[CONTINUE, STOP], evaluator=[WRONG])
    result, _ = await run(responder, **{"environment.rule.ceo.honor_stop": False})
    assert result.termination == "max_turn" and result.rounds == 2
    assert any(event.detail.get("reason") == "honor_stop is false" for event in result.events)


async def test_evaluator_correct_ends_early() -> None:
    responder = ScriptedResponder(evaluator=[RIGHT])
    result, _ = await run(responder)
    assert result.termination == "evaluator_correct"
    assert result.rounds == 1 and result.evaluator_correct is True
    assert responder.count("ceo") == 1


async def test_max_turn_reached() -> None:
    responder = ScriptedResponder(ceo=[CONTINUE], evaluator=[WRONG])
    result, _ = await run(responder)
    assert result.termination == "max_turn" and result.rounds == 2
    assert responder.count("evaluator") == 2 and result.evaluator_correct is False
    # The second round's CEO saw the first round's solution, advice and resources.
    second_ceo = requests_of(responder, "ceo")[1]["messages"][-1]["content"]
    assert "boxed{42}" in second_ceo and "Recheck the product" in second_ceo
    assert "recruit_number: 2, maximum_tokens: 128" in second_ceo


async def test_recruit_four_gives_three_critics() -> None:
    ceo = "### Decision: Continue\n### Recruit Number: 4\n### Direction: Go.\n### Maximum Tokens: 256"
    responder = ScriptedResponder(ceo=[ceo], evaluator=[RIGHT])
    result, _ = await run(responder, task=AIME, **{"environment.rule.ceo.max_recruits": 4})
    assert responder.count("critic") == 3
    assert "Recruit 4 experts" in requests_of(responder, "role_assigner")[0]["messages"][-1]["content"]
    roles = next(event.detail["roles"] for event in result.events if event.kind == "roles")
    assert len(roles) == 4
    critic_systems = {payload["messages"][0]["content"].splitlines()[0] for payload in requests_of(responder, "critic")}
    assert critic_systems == {role for role in roles[1:]}


async def test_ceo_budget_reaches_only_solver_and_critics() -> None:
    ceo = "### Decision: Continue\n### Recruit Number: 3\n### Direction: Go.\n### Maximum Tokens: 64"
    responder = ScriptedResponder(ceo=[ceo], evaluator=[RIGHT])
    config_tokens = {"ceo": 128, "role_assigner": 128, "evaluator": 128}
    await run(responder)
    for agent in ("solver", "critic"):
        assert {payload["max_tokens"] for payload in requests_of(responder, agent)} == {64}
    for agent, tokens in config_tokens.items():
        assert {payload["max_tokens"] for payload in requests_of(responder, agent)} == {tokens}


async def test_ceo_numbers_are_clamped_and_recorded() -> None:
    ceo = "### Decision: Continue\n### Recruit Number: 9\n### Direction: Go.\n### Maximum Tokens: 200"
    responder = ScriptedResponder(ceo=[ceo], evaluator=[RIGHT])
    result, _ = await run(responder)
    clamped = next(event.detail for event in result.events if event.kind == "ceo_clamped")
    assert clamped["recruit_number"] == {"asked": 9, "used": 3}
    assert clamped["max_tokens"] == {"asked": 200, "used": 256}
    assert responder.count("critic") == 2
    assert {payload["max_tokens"] for payload in requests_of(responder, "solver")} == {256}


async def test_critics_run_concurrently() -> None:
    ceo = "### Decision: Continue\n### Recruit Number: 3\n### Direction: Go.\n### Maximum Tokens: 128"
    responder = ScriptedResponder(ceo=[ceo], critic=[FakeReply("Fine. [Agree]", delay_s=0.3)], evaluator=[RIGHT])
    _, (fake,) = await run(responder)
    critic_requests = [request for request in fake.requests if "You review a solution" in str(request.payload)]
    assert len(critic_requests) == 2
    first, second = critic_requests
    assert first.started < second.finished and second.started < first.finished  # overlapping in time


async def test_consensus_ends_inner_loop() -> None:
    responder = ScriptedResponder(evaluator=[RIGHT])
    result, _ = await run(responder)
    assert responder.count("solver") == 1 and responder.count("critic") == 1
    assert any(event.kind == "consensus" for event in result.events)


async def test_disagreement_makes_the_solver_revise_with_the_review() -> None:
    responder = ScriptedResponder(
        critic=["Step 2 is wrong: 6*7 is not 41. [Disagree]", "Now correct. [Agree]"],
        solver=["\\boxed{41}", "\\boxed{42}"],
        evaluator=[RIGHT],
    )
    result, _ = await run(responder)
    assert responder.count("solver") == 2 and responder.count("critic") == 2
    revision_prompt = requests_of(responder, "solver")[1]["messages"]
    assert "6*7 is not 41" in revision_prompt[-1]["content"]
    assert any(message["content"] == "\\boxed{41}" for message in revision_prompt)  # solver memory
    assert result.final_answer == "\\boxed{42}"


async def test_malformed_ceo_is_retried_then_recorded_with_fallback() -> None:
    responder = ScriptedResponder(ceo=["I think we should keep going."], evaluator=[RIGHT])
    result, _ = await run(responder)
    ceo_calls = [call for call in result.calls if call.agent_type == "ceo"]
    assert [call.status for call in ceo_calls] == ["parse_error"] * ATTEMPTS
    assert all(call.content == "I think we should keep going." for call in ceo_calls)
    assert result.fallbacks == 1 and result.failed_calls == ATTEMPTS
    decision = result.ceo_decisions[0]
    assert decision.source == "fallback" and decision.recruit_number == 2 and decision.max_tokens is None
    assert decision.round == 1
    assert {payload["max_tokens"] for payload in requests_of(responder, "solver")} == {256}  # configured budget


async def test_malformed_roles_are_retried_then_generic_roles_recorded() -> None:
    responder = ScriptedResponder(role_assigner=["Some experts would help."], evaluator=[RIGHT])
    result, _ = await run(responder)
    statuses = [call.status for call in result.calls if call.agent_type == "role_assigner"]
    assert statuses == ["parse_error"] * ATTEMPTS
    fallback = next(event.detail for event in result.events if event.kind == "fallback")
    assert fallback["agent"] == "role_assigner" and fallback["used"] == "generic roles"
    assert result.status == "ok"


async def test_server_error_then_success_is_retried() -> None:
    responder = ScriptedResponder(solver=[FakeReply(status=500), "\\boxed{42}"], evaluator=[RIGHT])
    result, _ = await run(responder)
    assert responder.count("solver") == 2
    solver_calls = [call for call in result.calls if call.agent_type == "solver"]
    assert [call.status for call in solver_calls] == ["ok"]
    assert result.final_answer == "\\boxed{42}"


async def test_persistent_server_error_ends_the_problem_as_an_error_without_an_answer() -> None:
    responder = ScriptedResponder(solver=[FakeReply(status=503)])
    result, _ = await run(responder, **{"llm.max_retries": 2})
    assert responder.count("solver") == 3
    assert result.status == "error" and result.final_answer is None
    assert result.termination == "error"
    assert result.error is not None and result.error.startswith("Solver (round 1): ") and "503" in result.error
    failed = [call for call in result.calls if call.agent_type == "solver"]
    assert failed[0].status == "llm_error" and "503" in (failed[0].error or "")


async def test_client_error_is_not_retried() -> None:
    responder = ScriptedResponder(solver=[FakeReply(status=400)])
    result, _ = await run(responder)
    assert responder.count("solver") == 1 and result.status == "error"


def fail_in_round_two(agent: str) -> ScriptedResponder:
    """Round 1 runs cleanly (a draft is on the table, the evaluator says wrong); `agent` then fails
    persistently in round 2."""
    broken = FakeReply(status=503)
    scripts: dict[str, list[Any]] = {
        "ceo": [CONTINUE, CONTINUE],
        "role_assigner": [COOPERATIVE_ROLES, COOPERATIVE_ROLES],
        "solver": ["\\boxed{41}", "\\boxed{41}"],
        "critic": ["[Agree]", "[Agree]"],
        "evaluator": [WRONG, WRONG],
    }
    scripts[agent] = [scripts[agent][0], broken]
    return ScriptedResponder(**scripts)


COOPERATIVE_ROLES = "1. A mathematician specialized in algebra\n2. A reviewer specialized in proofs"


@pytest.mark.parametrize("agent", ["ceo", "role_assigner", "solver", "critic", "evaluator"])
async def test_a_round_two_infrastructure_failure_never_keeps_the_round_one_draft(agent: str) -> None:
    responder = fail_in_round_two(agent)
    result, _ = await run(responder, **{"llm.max_retries": 1})
    assert result.status == "error" and result.termination == "error"
    assert result.final_answer is None  # the round-1 draft is not passed off as the answer
    assert result.evaluator_correct is None
    assert result.error is not None and "(round 2)" in result.error and "503" in result.error
    assert result.fallbacks == 0  # an infrastructure failure is never covered by a fallback
    failed = [call for call in result.calls if call.status == "llm_error"]
    assert [call.agent_type for call in failed] == [agent]
    errors = [event for event in result.events if event.kind == "infrastructure_error"]
    assert len(errors) == 1 and errors[0].round == 2


async def test_one_failing_critic_cancels_its_siblings_and_errors_the_problem() -> None:
    def critic(payload: dict[str, Any]) -> FakeReply:
        if "mathematician" in payload["messages"][0]["content"] or "first" in json.dumps(payload):
            return FakeReply(status=503)
        return FakeReply("[Agree]", delay_s=1.0)

    three = "### Decision: <Continue>\n### Recruit Number: 3\n### Direction: Verify.\n### Maximum Tokens: 128"
    roles = "1. A solver\n2. A first reviewer\n3. A second reviewer"
    responder = ScriptedResponder(ceo=[three], role_assigner=[roles], critic=[critic])
    result, _ = await run(responder, **{"llm.max_retries": 0})
    assert result.status == "error" and "Critic" in (result.error or "")
    # The problem ends at the failure: the slow sibling's reply is not waited for nor recorded.
    assert [call.status for call in result.calls if call.agent_type == "critic"] == ["llm_error"]


async def test_failing_replica_is_avoided() -> None:
    responder = ScriptedResponder(evaluator=[RIGHT])
    bad = FakeOpenAIServer(lambda payload: FakeReply(status=502))
    good = FakeOpenAIServer(responder)
    await bad.start()
    await good.start()
    config = fake_config(MATH, [bad.base_url, good.base_url])
    llm = LLMClient.from_config(config.llm)
    try:
        result = await TaskSolvingEnvironment(config, llm).solve(SAMPLE)
    finally:
        await llm.aclose()
        await bad.stop()
        await good.stop()
    assert result.status == "ok" and result.failed_calls == 0
    assert len(bad.requests) <= 1  # after its first failure the broken replica is not picked again
    assert len(good.requests) == sum(call.requests for call in result.calls)


async def test_no_ceo_runs_fixed_team_with_configured_budgets() -> None:
    responder = ScriptedResponder(evaluator=[WRONG])
    result, _ = await run(responder, **{"environment.rule.ceo.type": "none"})
    assert responder.count("ceo") == 0
    assert result.rounds == 2 and result.termination == "max_turn"
    assert {payload["max_tokens"] for payload in requests_of(responder, "solver")} == {256}
    assert {payload["max_tokens"] for payload in requests_of(responder, "critic")} == {128}
    assert all(decision.source == "fixed" for decision in result.ceo_decisions)


async def test_solver_that_never_answers_readably_ends_ok_with_no_answer() -> None:
    responder = ScriptedResponder(solver=["   "])
    result, _ = await run(responder)
    assert result.status == "ok" and result.final_answer is None  # graded no_answer, counted
    assert result.termination == "solver_failed"
    assert [call.status for call in result.calls if call.agent_type == "solver"] == ["parse_error"] * ATTEMPTS


async def test_thinking_model_forces_answer_at_budget_and_hides_thinking() -> None:
    thoughts = " ".join(["hmm"] * 500)

    def solver(payload: dict[str, Any]) -> FakeReply:
        last = payload["messages"][-1]
        assert last["role"] == "assistant" and payload["continue_final_message"] is True
        if last["content"].endswith("</think>\n\n"):
            return FakeReply("So the answer is \\boxed{42}.")
        return FakeReply(thoughts)

    def critic(payload: dict[str, Any]) -> FakeReply:
        return FakeReply("ok</think>Looks right. [Agree]")

    responder = ScriptedResponder(solver=[solver], critic=[critic], evaluator=["</think>" + RIGHT], ceo=[CONTINUE])
    result, _ = await run(responder, **{"llm.thinking": True, "llm.context_length": 32768})
    solver_requests = requests_of(responder, "solver")
    assert len(solver_requests) == 2
    assert solver_requests[0]["messages"][-1]["content"] == "<think>\n"
    assert solver_requests[0]["max_tokens"] == 128
    assert solver_requests[1]["max_tokens"] == 64  # min(context - B, B / 2)
    assert solver_requests[1]["messages"][-1]["content"].startswith("<think>\nhmm hmm")
    call = next(call for call in result.calls if call.agent_type == "solver")
    assert call.forced_answer and call.content == "So the answer is \\boxed{42}."
    assert call.reasoning is not None and call.reasoning.startswith("hmm")
    for payload in requests_of(responder, "critic") + requests_of(responder, "evaluator"):
        assert "hmm hmm" not in str(payload["messages"])
    assert result.final_answer == "So the answer is \\boxed{42}."


async def test_thinking_model_that_closes_its_thoughts_needs_one_request() -> None:
    responder = ScriptedResponder(solver=["short thought</think>\\boxed{42}"], evaluator=[RIGHT])
    result, _ = await run(responder, **{"llm.thinking": True})
    assert responder.count("solver") == 1
    call = next(call for call in result.calls if call.agent_type == "solver")
    assert call.content == "\\boxed{42}" and call.reasoning == "short thought" and not call.forced_answer


async def test_completions_fallback_sends_a_chatml_prompt() -> None:
    responder = ScriptedResponder(evaluator=[RIGHT])
    fake = FakeOpenAIServer(lambda payload: FakeReply("thought</think>\\boxed{42}"))
    await fake.start()
    config = fake_config(MATH, [fake.base_url], **{"llm.thinking": True, "llm.continuation_api": "completions"})
    llm = LLMClient.from_config(config.llm)
    try:
        generation = await llm.generate([{"role": "user", "content": "hi"}], config.agent("solver").llm)
    finally:
        await llm.aclose()
        await fake.stop()
    assert responder.count("solver") == 0
    request = fake.requests[0]
    assert request.path == "/v1/completions"
    assert request.payload["prompt"] == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n"
    assert generation.content == "\\boxed{42}" and generation.reasoning == "thought"


@pytest.mark.parametrize("structure", ["vertical", "horizontal", "concurrent", "brainstorming"])
async def test_other_decision_makers_produce_a_solution(structure: str) -> None:
    ceo = "### Decision: Continue\n### Recruit Number: 3\n### Direction: Go.\n### Maximum Tokens: 128"
    responder = ScriptedResponder(ceo=[ceo], critic=["Try factoring. [Disagree]"], evaluator=[RIGHT])
    result, _ = await run(responder, **{"environment.rule.decision_maker.type": structure})
    assert result.status == "ok" and "boxed{42}" in (result.final_answer or "")
    critic_requests = requests_of(responder, "critic")
    if structure in ("horizontal", "brainstorming"):
        # The second critic hears the first one's review (through its memory) before giving its own.
        assert "]: Try factoring." in critic_requests[1]["messages"][-1]["content"]
    if structure in ("vertical", "brainstorming"):
        assert "No draft yet" in critic_requests[0]["messages"][-1]["content"]
        assert "Try factoring" in requests_of(responder, "solver")[0]["messages"][-1]["content"]
    if structure == "concurrent":
        assert responder.count("solver") == 2 and responder.count("critic") == 2


async def test_unreadable_evaluator_gives_no_verdict_and_is_recorded() -> None:
    responder = ScriptedResponder(ceo=[CONTINUE], evaluator=["Looks good to me!"])
    result, _ = await run(responder)
    assert result.termination == "max_turn" and result.rounds == 2
    assert result.evaluator_correct is None and result.fallbacks == 2  # no verdict, never "false"
    evaluations = [event.detail for event in result.events if event.kind == "evaluation"]
    assert evaluations == [{"correct": None}, {"correct": None}]
    assert [call.status for call in result.calls if call.agent_type == "evaluator"] == ["parse_error"] * 2 * ATTEMPTS
    second_ceo = requests_of(responder, "ceo")[1]["messages"][-1]["content"]
    assert "The evaluation failed" in second_ceo


async def test_code_executor_runs_public_tests_in_the_sandbox() -> None:
    from dataloader import load_samples

    sample = load_samples("humaneval", limit=1)[0]
    good = f"```python\n{sample.metadata['prompt']}{sample.metadata['canonical_solution']}```"
    bad = "```python\ndef has_close_elements(numbers, threshold):\n    return True\n```"
    for code, passed in ((good, True), (bad, False)):
        responder = ScriptedResponder(solver=[code], evaluator=[RIGHT])
        result, _ = await run(responder, task="tasksolving/humaneval/smollm2", sample=sample)
        report = next(event.detail for event in result.events if event.kind == "executor")
        assert report["passed"] is passed
        evaluator_prompt = requests_of(responder, "evaluator")[0]["messages"][-1]["content"]
        assert report["summary"] in evaluator_prompt
        if passed:
            assert "all public tests passed" in report["summary"]
        else:
            assert "AssertionError" in report["summary"]


async def test_concept_coverage_executor_names_missing_concepts() -> None:
    sample = Sample(id="c1", input="Use: dog, run, park, ball", target=["dog", "run", "park", "ball"])
    responder = ScriptedResponder(solver=["The dogs were running in the park."], evaluator=[RIGHT])
    result, _ = await run(responder, task="tasksolving/commongen/smollm2", sample=sample)
    report = next(event.detail for event in result.events if event.kind == "executor")
    assert report["passed"] is False
    assert report["summary"] == "3 of 4 concepts used; missing: ball."


async def test_budget_is_fitted_into_the_context_and_recorded() -> None:
    responder = ScriptedResponder(evaluator=[RIGHT])
    result, _ = await run(responder, **{"llm.context_length": 600})
    solver_call = next(call for call in result.calls if call.agent_type == "solver")
    sent = requests_of(responder, "solver")[0]["max_tokens"]
    assert solver_call.generation.max_tokens == 256  # what the config asked for
    assert sent == solver_call.max_tokens_sent < 256  # what the context allowed, sent and recorded


async def test_a_forced_answer_at_the_papers_budget_fits_beside_the_thought_by_the_servers_count() -> None:
    """The CEO's 32000-token budget in a 32768-token context: the thought (counted by the server)
    leaves a few hundred tokens to answer in; an estimate from its characters would leave none."""
    budget, context = 32000, 32768

    def ceo(payload: dict[str, Any]) -> FakeReply:
        if payload["messages"][-1]["content"].endswith("</think>\n\n"):
            return FakeReply(STOP)
        return FakeReply(" ".join(["mmmmmmmm"] * (payload["max_tokens"] + 1)))  # 9 characters a token

    responder = ScriptedResponder(ceo=[ceo], solver=["done</think>\\boxed{42}"], evaluator=["</think>" + RIGHT])
    result, _ = await run(
        responder, **{"llm.thinking": True, "llm.context_length": context, "agents.ceo.llm.max_tokens": budget}
    )
    call = next(call for call in result.calls if call.agent_type == "ceo")
    assert call.status == "ok" and call.forced_answer and call.requests == 2, call.error
    first, forced = requests_of(responder, "ceo")[:2]
    used = prompt_words(first) + first["max_tokens"]  # what the server counted: prompt and thought
    assert used + forced["max_tokens"] <= context  # the answer fits beside them
    assert forced["max_tokens"] >= context - used - 64  # and little room is wasted


def prompt_words(payload: dict[str, Any]) -> int:
    """What the fake server counts for a request's prompt (whitespace-separated words)."""
    return sum(len(message["content"].split()) for message in payload["messages"])
