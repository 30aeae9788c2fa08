"""Options shared by the command-line tools: which task config, and which model/endpoint."""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
import sys
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol, TypeVar

from agentverse.config.loader import ConfigError, apply_overrides, load_task_config
from agentverse.config.schema import TaskConfig


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and endpoint (override the task config)")
    group.add_argument("--model", help="Served model name (openai) or model folder / embedded:smollm2.")
    group.add_argument(
        "--base-url",
        action="append",
        dest="base_urls",
        metavar="URL",
        help="OpenAI-compatible base URL, e.g. http://gpu-node:8000/v1. Repeat for several replicas.",
    )
    group.add_argument("--api-key-env", help="Name of the env var holding the API key (none for local servers).")
    group.add_argument("--backend", choices=["openai", "transformers"], help="LLM backend.")
    thinking = group.add_mutually_exclusive_group()
    thinking.add_argument("--thinking", dest="thinking", action="store_true", default=None, help="Thinking model.")
    thinking.add_argument("--no-thinking", dest="thinking", action="store_false", help="Not a thinking model.")
    group.add_argument(
        "--endpoints-file",
        metavar="FILE",
        help="A file with one base URL per line, reread while running: replicas added join the run, replicas "
        "removed get no new requests (instead of --base-url).",
    )
    group.add_argument(
        "--max-concurrency",
        type=concurrency_cap,
        metavar="N|auto",
        help="Requests in flight per endpoint: the server's batch (default 256, vLLM's default), or `auto` to "
        "follow the server's own queue in vLLM's /metrics.",
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        help="Seconds one HTTP request may take before it is retried (default: llm.timeout_floor_s + "
        "max_tokens / llm.min_tokens_per_s, i.e. 60 + max_tokens / 10 unless the config says otherwise).",
    )
    group.add_argument("--context-length", type=int, help="The server's max model length (prompt + reply).")
    group.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME=MODEL@URL",
        help="A named endpoint besides the default one (repeatable), e.g. small=Qwen2.5-7B-Instruct@http://gpu-b:8000/v1.",
    )
    group.add_argument(
        "--agent-endpoint",
        action="append",
        default=[],
        metavar="ROLE=NAME",
        help="Send a role's calls to a named endpoint (repeatable), e.g. ceo=small; `default` is --base-url's.",
    )
    group.add_argument("--max-turn", type=int, help="Most rounds per problem.")
    group.add_argument("--no-ceo", action="store_true", help="Run without the CEO (fixed team and budget).")


def concurrency_cap(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or auto, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def model_overrides(args: argparse.Namespace) -> dict[str, Any]:
    if args.base_urls and getattr(args, "endpoints_file", None):
        raise ConfigError("command line", "--endpoints-file", "give either --base-url or --endpoints-file, not both")
    overrides: dict[str, Any] = {}
    pairs = {
        "llm.model": args.model,
        "llm.base_urls": args.base_urls,
        "llm.api_key_env": args.api_key_env,
        "llm.backend": args.backend,
        "llm.thinking": args.thinking,
        "llm.max_concurrency": args.max_concurrency,
        "llm.endpoints_file": getattr(args, "endpoints_file", None),
        "llm.timeout_s": getattr(args, "request_timeout", None),
        "llm.context_length": args.context_length,
        "environment.max_turn": args.max_turn,
    }
    overrides = {key: value for key, value in pairs.items() if value is not None}
    if args.base_urls:
        overrides["llm.endpoints_file"] = getattr(args, "endpoints_file", None)  # --base-url replaces a config's file
    if (args.base_urls or getattr(args, "endpoints_file", None)) and not args.backend:
        overrides["llm.backend"] = "openai"  # a URL only makes sense for a server
    if args.no_ceo:
        overrides["environment.rule.ceo.type"] = "none"
    overrides |= endpoint_overrides(getattr(args, "endpoint", []), getattr(args, "agent_endpoint", []))
    return overrides


def endpoint_overrides(endpoints: list[str], assignments: list[str]) -> dict[str, Any]:
    """`--endpoint NAME=MODEL@URL` and `--agent-endpoint ROLE=NAME` as config overrides."""
    overrides: dict[str, Any] = {}
    for text in endpoints:
        name, _, target = text.partition("=")
        model, _, url = target.rpartition("@")
        if not name or not model or not url:
            raise ConfigError("command line", "--endpoint", f"expected NAME=MODEL@URL, got {text!r}")
        overrides[f"endpoints.{name}"] = {"backend": "openai", "model": model, "base_urls": [url]}
    for text in assignments:
        role, _, name = text.partition("=")
        if not role or not name:
            raise ConfigError("command line", "--agent-endpoint", f"expected ROLE=NAME, got {text!r}")
        overrides[f"agents.{role}.endpoint"] = name
    return overrides


def conventional_endpoint(config: TaskConfig, args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """OPENAI_BASE_URL (and then OPENAI_API_KEY) when neither the flags nor the config name an endpoint.

    The key is only used with the base URL from the same convention: a key meant for one provider is
    never sent to a server that the config or the flags chose.
    """
    named = config.llm.model_fields_set & {"base_urls", "api_key_env", "endpoints_file"}
    if args.base_urls or args.api_key_env or args.endpoints_file or named or config.llm.backend != "openai":
        return {}
    base_url = environ.get("OPENAI_BASE_URL")
    if not base_url:
        return {}
    overrides: dict[str, Any] = {"llm.base_urls": [base_url]}
    if environ.get("OPENAI_API_KEY"):
        overrides["llm.api_key_env"] = "OPENAI_API_KEY"
    return overrides


def load_config_or_exit(task: str, args: argparse.Namespace) -> tuple[TaskConfig, str]:
    try:
        config, path = load_task_config(task)
        conventional = conventional_endpoint(config, args, os.environ)
        overrides = {**model_overrides(args), **conventional}
        if overrides:
            config = apply_overrides(config, overrides, str(path))
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if conventional:  # said only once the URL has passed validation (it may not hold credentials)
        key_note = " with the key in OPENAI_API_KEY" if config.llm.api_key_env else ""
        print(
            f"using OPENAI_BASE_URL={config.llm.base_urls[0]}{key_note} (the config names no endpoint)", file=sys.stderr
        )
    return config, str(path)


Result = TypeVar("Result")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Main(Protocol):
    def __call__(self, argv: list[str] | None = None) -> int: ...


def ctrl_c_is_one_line(main: Main) -> Main:
    """A command's `main` that answers Ctrl-C outside its event loop (while the config, the data or
    a library is loading, or while the results print) with one line and exit code 130, not a
    traceback. Inside the loop `run_interruptibly` handles it, and saves what was done."""

    @functools.wraps(main)
    def guarded(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except KeyboardInterrupt:
            print(f"interrupted ({signal.SIGINT.name})", file=sys.stderr, flush=True)
            return 128 + signal.SIGINT

    return guarded


class Interrupted(Exception):
    """The user (Ctrl-C) or the system (SIGTERM) asked the command to stop."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        return 128 + self.signal_number  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


async def run_interruptibly(work: Coroutine[Any, Any, Result]) -> Result:
    """Run the command's work; SIGINT or SIGTERM cancels it (calls in flight are cancelled, and the
    work's cleanup writes what had finished) and raises `Interrupted` instead of a traceback.
    A second signal during the cleanup is ignored, so the cleanup completes."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    received: list[int] = []

    def on_signal(signal_number: int) -> None:
        if not received:
            received.append(signal_number)
            task.cancel()

    for signal_number in STOP_SIGNALS:
        loop.add_signal_handler(signal_number, on_signal, signal_number)
    try:
        return await task
    except asyncio.CancelledError:
        if received:
            raise Interrupted(received[0]) from None
        raise
    finally:
        for signal_number in STOP_SIGNALS:
            loop.remove_signal_handler(signal_number)
