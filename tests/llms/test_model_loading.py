"""An in-process model loads as its own step: reported with its own time, and booked to no call."""

from __future__ import annotations

import pytest

from agentverse.config.schema import EndpointConfig, GenerationConfig
from agentverse.llms import client as client_module
from agentverse.llms.base import ChatMessage, RawCompletion
from agentverse.llms.client import LLMClient
from agentverse.llms.pool import ModelPool

LOAD_S = 100.0  # on the fake clock


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowLoadingBackend:
    """Loads for LOAD_S seconds of the fake clock, then answers at once."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.loaded = False
        self.loads = 0

    def loading_message(self) -> str | None:
        return None if self.loaded else "loading model slow ..."

    async def prepare(self) -> None:
        if not self.loaded:
            self.loads += 1
            self.clock.now += LOAD_S
            self.loaded = True

    async def complete(
        self, messages: list[ChatMessage], generation: GenerationConfig, prefill: str | None = None
    ) -> RawCompletion:
        assert self.loaded, "asked to generate before the model loaded"
        self.clock.now += 1.0
        return RawCompletion(text="hello", finish_reason="stop", prompt_tokens=3, completion_tokens=1, endpoint="slow")

    async def aclose(self) -> None:
        pass


def client_on_fake_clock(monkeypatch: pytest.MonkeyPatch) -> tuple[LLMClient, SlowLoadingBackend, FakeClock]:
    clock = FakeClock()
    monkeypatch.setattr(client_module.time, "perf_counter", clock)
    backend = SlowLoadingBackend(clock)
    return LLMClient(EndpointConfig(model="slow", fit_to_context=False), backend), backend, clock


async def test_the_first_call_latency_excludes_the_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    llm, backend, _ = client_on_fake_clock(monkeypatch)
    result = await llm.generate([{"role": "user", "content": "hi"}], GenerationConfig(max_tokens=8))
    assert backend.loads == 1 and result.latency_s == 1.0  # the call's own second, not the 100 of loading


async def test_loading_is_reported_once_with_its_own_time(monkeypatch: pytest.MonkeyPatch) -> None:
    llm, backend, _ = client_on_fake_clock(monkeypatch)
    monkeypatch.setattr("agentverse.llms.pool.time.perf_counter", backend.clock)
    pool = ModelPool({"default": llm})
    lines: list[str] = []
    await pool.prepare(lines.append)
    assert lines == ["loading model slow ...", f"model loaded in {LOAD_S:.1f} s"]
    await pool.prepare(lines.append)  # a second run in the same process: nothing left to load
    assert len(lines) == 2 and backend.loads == 1


async def test_a_server_has_nothing_to_load() -> None:
    llm = LLMClient.from_config(EndpointConfig(model="served", base_urls=["http://127.0.0.1:9/v1"]))
    lines: list[str] = []
    await ModelPool({"default": llm}).prepare(lines.append)
    await llm.aclose()
    assert lines == []
