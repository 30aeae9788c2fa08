"""Smoke test of run/serve.sh and of the vLLM features the LLM client relies on.

Starts the CPU build of vLLM (from .venvs/serve, made by scripts/setup_serve_env.sh) serving
the embedded SmolLM2-135M-Instruct, converted to a Hugging Face folder, through
`run/serve.sh --background`, checks real responses, and stops it. The model is far too small
to be right about anything: the checks are about the protocol (token counts, finish reasons,
where a continuation starts, batching), with greedy decoding where text is compared.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.recipe

ROOT = Path(__file__).resolve().parents[2]
SERVE_PYTHON = ROOT / ".venvs" / "serve" / "bin" / "python"
MODEL_DIR = ROOT / ".cache" / "smollm2-hf"
MODEL_NAME = "smollm2"
CONTEXT = 1024  # the served max length: small, because prompt processing on 2 CPU cores is slow
STARTUP_TIMEOUT_S = 600
QUESTION = "Name the capital of France."


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int
    log_file: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_alive(pid: int) -> bool:
    """A zombie (exited, not yet reaped by its new parent) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_members_alive(process_group: int) -> list[int]:
    found = subprocess.run(["pgrep", "-g", str(process_group)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split() if process_alive(int(pid))]


def ensure_model_folder() -> None:
    if (MODEL_DIR / "config.json").is_file():
        return
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "convert_gguf_to_hf.py"), str(MODEL_DIR)],
        check=True,
        cwd=ROOT,
        timeout=600,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not SERVE_PYTHON.is_file():
        pytest.skip(f"no vLLM venv at {SERVE_PYTHON}; create it with: bash scripts/setup_serve_env.sh")
    ensure_model_folder()
    work = tmp_path_factory.mktemp("serve")
    port = free_port()
    environment = {
        **os.environ,
        "MODEL_PATH": str(MODEL_DIR),
        "SERVED_MODEL_NAME": MODEL_NAME,
        "MAX_MODEL_LEN": str(CONTEXT),
        "PORT": str(port),
        "SERVE_DEVICE": "cpu",
        "SERVE_PYTHON": str(SERVE_PYTHON),
        "SERVE_TIMEOUT": str(STARTUP_TIMEOUT_S),
        "THINKING_BUDGET": "1",  # per-request thinking budgets (llm.budget_forcing: server)
        "LOG_FILE": str(work / "server.log"),
        "PID_FILE": str(work / "server.pid"),
    }
    started = subprocess.run(
        ["bash", str(ROOT / "run" / "serve.sh"), "--background"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT_S + 60,
    )
    assert started.returncode == 0, f"run/serve.sh failed:\n{started.stderr[-4000:]}"
    base_url = started.stdout.strip().splitlines()[-1]
    assert base_url == f"http://127.0.0.1:{port}/v1"
    pid = int((work / "server.pid").read_text())
    assert process_alive(pid)
    try:
        yield Server(base_url=base_url, pid=pid, log_file=work / "server.log")
    finally:
        stopped = subprocess.run(
            ["bash", str(ROOT / "run" / "serve.sh"), "--stop"],
            env=environment,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert stopped.returncode == 0, stopped.stderr
        assert not process_alive(pid), f"server {pid} still running after run/serve.sh --stop"
        # The engine core and worker processes share the server's process group.
        assert group_members_alive(pid) == []
        assert not (work / "server.pid").exists()


def post(server: Server, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST to the OpenAI routes under /v1, or to vLLM's own /tokenize and /detokenize."""
    root = server.base_url.removesuffix("/v1")
    url = f"{root}{path}" if path in ("/tokenize", "/detokenize") else f"{server.base_url}{path}"
    response = httpx.post(url, json={"model": MODEL_NAME, **payload}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def chat_text(body: dict[str, Any]) -> str:
    return body["choices"][0]["message"]["content"]


def test_models_lists_the_served_name(server: Server) -> None:
    body = httpx.get(f"{server.base_url}/models", timeout=30).json()
    assert [model["id"] for model in body["data"]] == [MODEL_NAME]
    assert body["data"][0]["max_model_len"] == CONTEXT


def test_chat_sampling_usage_and_length_finish(server: Server) -> None:
    """(a) max_tokens, temperature, top_p; usage counts; finish_reason "length" at the budget."""
    body = post(
        server,
        "/chat/completions",
        {
            "messages": [{"role": "user", "content": QUESTION}],
            "max_tokens": 5,
            "temperature": 0.7,
            "top_p": 0.95,
        },
    )
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    assert body["usage"]["prompt_tokens"] > 5
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 5
    assert chat_text(body).strip()


def test_chat_stop_finish_below_budget(server: Server) -> None:
    """(a) A reply that ends by itself says "stop" and counts fewer tokens than the budget."""
    body = post(
        server,
        "/chat/completions",
        {"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 200, "temperature": 0.0},
    )
    assert body["choices"][0]["finish_reason"] == "stop"
    assert 0 < body["usage"]["completion_tokens"] < 200
    assert "Paris" in chat_text(body)


def test_chat_stop_strings_and_seed(server: Server) -> None:
    """The client also sends `stop` and `seed`: both are honoured."""
    stopped = post(
        server,
        "/chat/completions",
        {
            "messages": [{"role": "user", "content": QUESTION}],
            "max_tokens": 50,
            "temperature": 0.0,
            "stop": ["Paris"],
        },
    )
    assert stopped["choices"][0]["finish_reason"] == "stop"
    assert stopped["choices"][0]["stop_reason"] == "Paris"
    assert "Paris" not in chat_text(stopped)
    request = {
        "messages": [{"role": "user", "content": "Write a short poem."}],
        "max_tokens": 24,
        "temperature": 1.0,
        "top_p": 0.95,
        "seed": 1234,
    }
    assert chat_text(post(server, "/chat/completions", request)) == chat_text(
        post(server, "/chat/completions", request)
    )


def test_chat_assistant_prefill_continues_without_repeating(server: Server) -> None:
    """(b) A final assistant message plus continue_final_message/add_generation_prompt=false."""
    messages = [{"role": "user", "content": QUESTION}]
    prefill = {"continue_final_message": True, "add_generation_prompt": False}
    # vLLM's /tokenize renders the chat exactly as the chat endpoint would; /detokenize shows it.
    rendered = post(
        server,
        "/tokenize",
        {"messages": [*messages, {"role": "assistant", "content": "<think>\n"}], **prefill},
    )
    prompt = post(server, "/detokenize", {"tokens": rendered["tokens"]})["prompt"]
    # The prompt ends inside the open assistant turn, newline kept, no <|im_end|> after it.
    assert prompt.endswith(f"{QUESTION}<|im_end|>\n<|im_start|>assistant\n<think>\n")

    think = post(
        server,
        "/chat/completions",
        {
            "messages": [*messages, {"role": "assistant", "content": "<think>\n"}],
            "max_tokens": 16,
            "temperature": 0.0,
            **prefill,
        },
    )
    assert think["usage"]["prompt_tokens"] == rendered["count"]
    assert not chat_text(think).lstrip().startswith("<think>")

    sentence = "The capital of France is"
    continued = post(
        server,
        "/chat/completions",
        {
            "messages": [*messages, {"role": "assistant", "content": sentence}],
            "max_tokens": 8,
            "temperature": 0.0,
            **prefill,
        },
    )
    text = chat_text(continued)
    assert "Paris" in text
    assert not text.lstrip().startswith("The capital")


def test_the_server_ends_a_thought_at_its_thinking_budget(server: Server) -> None:
    """`thinking_token_budget` (what `llm.budget_forcing: server` sends) is accepted, and vLLM itself
    closes the thought at the budget: counting words would go on for the whole max_tokens."""
    thought = [{"role": "user", "content": "Count from one to fifty in words."}]
    thought.append({"role": "assistant", "content": "<think>\nOne, two, three, four,"})
    request = {"messages": thought, "max_tokens": 48, "temperature": 0.0, "skip_special_tokens": False}
    request |= {"continue_final_message": True, "add_generation_prompt": False}
    free = chat_text(post(server, "/chat/completions", request))
    assert "</think>" not in free
    budgeted = post(server, "/chat/completions", {**request, "thinking_token_budget": 24})
    text = chat_text(budgeted)
    assert "</think>" in text  # the server closed the thought
    assert len(text.split("</think>", 1)[0].split()) < len(free.split())


def test_completions_with_raw_chatml_prompt(server: Server) -> None:
    """(c) /v1/completions takes a ChatML string and returns only the new text."""
    prompt = f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\nThe capital of France is"
    body = post(server, "/completions", {"prompt": prompt, "max_tokens": 8, "temperature": 0.0})
    assert body["object"] == "text_completion"
    assert "Paris" in body["choices"][0]["text"]
    assert not body["choices"][0]["text"].lstrip().startswith("The capital")
    short = post(server, "/completions", {"prompt": prompt, "max_tokens": 2, "temperature": 0.7, "top_p": 0.95})
    assert short["choices"][0]["finish_reason"] == "length"
    assert short["usage"]["completion_tokens"] == 2


RUNNING_GAUGE = re.compile(r"^vllm:num_requests_running(?:\{[^}]*\})? ([0-9.]+)$", re.MULTILINE)


async def chat_to_length(client: httpx.AsyncClient, max_tokens: int) -> dict[str, Any]:
    response = await client.post(
        "/chat/completions",
        json={
            "model": MODEL_NAME,
            "messages": [{"role": "user", "content": "Tell me a story."}],
            "max_tokens": max_tokens,
            "temperature": 0.7,
            "top_p": 0.95,
            "ignore_eos": True,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


async def most_running(client: httpx.AsyncClient, metrics_url: str, done: asyncio.Event) -> int:
    """Highest `vllm:num_requests_running` seen on /metrics until `done` is set."""
    most = 0
    while not done.is_set():
        text = (await client.get(metrics_url)).text
        most = max([most, *(int(float(value)) for value in RUNNING_GAUGE.findall(text))])
        await asyncio.sleep(0.1)
    return most


async def concurrent_chats(base_url: str, in_flight: int, max_tokens: int) -> tuple[int, list[dict[str, Any]]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
        done = asyncio.Event()
        watcher = asyncio.create_task(most_running(client, base_url.removesuffix("/v1") + "/metrics", done))
        try:
            bodies = await asyncio.gather(*(chat_to_length(client, max_tokens) for _ in range(in_flight)))
        finally:
            done.set()
        return await watcher, bodies


def test_many_requests_in_flight_are_batched(server: Server) -> None:
    """(d) 16 concurrent requests all succeed at full length, and the server runs them together.

    The server's own gauge is the evidence, not wall time: timings on a shared 2-core machine
    swing too much for a ratio to be a reliable assertion."""
    in_flight, max_tokens = 16, 32
    most, bodies = asyncio.run(concurrent_chats(server.base_url, in_flight, max_tokens))
    assert len(bodies) == in_flight
    # ignore_eos: every request runs to max_tokens, so the work per request is equal.
    assert [body["usage"]["completion_tokens"] for body in bodies] == [max_tokens] * in_flight
    assert {body["choices"][0]["finish_reason"] for body in bodies} == {"length"}
    assert most == in_flight, f"at most {most} of {in_flight} requests ran at once"


def test_context_limit_caps_or_rejects(server: Server) -> None:
    """Past the context: max_tokens is capped silently ("length" below max_tokens); a prompt
    longer than the context is a 400, which the client must record, not retry."""
    filler = "word " * (CONTEXT - 58)  # leaves fewer than 500 tokens of room
    capped = post(
        server,
        "/chat/completions",
        {
            "messages": [{"role": "user", "content": filler}],
            "max_tokens": 500,
            "temperature": 0.0,
            "ignore_eos": True,
        },
    )
    usage = capped["usage"]
    assert capped["choices"][0]["finish_reason"] == "length"
    assert usage["prompt_tokens"] + usage["completion_tokens"] == CONTEXT
    assert usage["completion_tokens"] < 500
    response = httpx.post(
        f"{server.base_url}/chat/completions",
        json={"model": MODEL_NAME, "messages": [{"role": "user", "content": filler * 2}], "max_tokens": 5},
        timeout=120,
    )
    assert response.status_code == 400
    assert "maximum context length" in response.json()["error"]["message"]
