"""An in-process model loads as its own step: reported with its own time, and booked to no call."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentverse.config.schema import EndpointConfig, GenerationConfig
from agentverse.llms import client as client_module
from agentverse.llms.base import ChatMessage, RawCompletion
from agentverse.llms.client import LLMClient
from agentverse.llms.embedded import CACHE_VARIABLE, embedded_gguf_path
from agentverse.llms.pool import ModelPool
from agentverse.llms.transformers_backend import pretrained_source
from agentverse_command.benchmark import main as benchmark_main
from agentverse_command.tasksolving import main as tasksolving_main

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


@pytest.mark.parametrize("command", ["tasksolving", "benchmark"])
def test_a_model_that_cannot_be_loaded_is_one_error(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, the load failed outside any handler: a traceback from the transformers backend."""
    args = ["--task", "tasksolving/humaneval/smollm2", "--model", str(tmp_path / "no-such-model")]
    if command == "tasksolving":
        code = tasksolving_main([*args, "--input", "Add two numbers.", "--output", str(tmp_path / "trace.json")])
    else:
        code = benchmark_main([*args, "--limit", "1", "--run-dir", str(tmp_path / "run"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "error: transformers backend: no model folder" in err and "no-such-model" in err
    assert "Traceback" not in err and not (tmp_path / "run" / "records.jsonl").exists()


def test_an_unwritable_cache_loads_the_gguf_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CACHE_VARIABLE, str(blocker / "cache"))  # cannot be created under a file
    source, options = pretrained_source("embedded:smollm2")
    assert Path(source) / options["gguf_file"] == embedded_gguf_path()
    assert "cannot cache the converted model" in capsys.readouterr().err
