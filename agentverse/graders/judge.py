"""Optional LLM judge, the paper's protocol: does the response's final answer match the reference?

Only used when configured. Verdicts are cached in a JSON-lines file keyed by a hash of (judge
model, problem, reference, response), so grading the same outputs again makes no request.

Requests go through the project's one HTTP client (`LLMClient` on the OpenAI-compatible
backend), so the judge shares its retry policy (transient statuses, dropped connections,
`Retry-After`), its circuit breaker and its redaction of the API key from error texts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path

from pydantic import ValidationError

from agentverse.config.schema import EndpointConfig, GenerationConfig
from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.math import extract_boxed
from agentverse.graders.text import strip_reasoning
from agentverse.llms.base import ChatMessage, ContextOverflow, LLMError
from agentverse.llms.client import LLMClient
from agentverse.llms.openai_backend import MissingAPIKey
from dataloader.base import Sample

JUDGE_PROMPT = """You are checking a student's answer against the reference answer of a problem.
Look only at the student's final answer; ignore the quality of the reasoning. Mathematically
equivalent forms count as the same answer (e.g. 1/2 and 0.5, or a reordered expression).

Problem:
{problem}

Reference answer:
{reference}

Student's response:
{response}

Reply with a one-line justification, then a last line that is exactly
Verdict: [Correct]
or
Verdict: [Incorrect]"""

VERDICT = re.compile(r"verdict\s*:\s*\[?\s*(correct|incorrect)\s*\]?", re.IGNORECASE)
JUDGE_CONTEXT_TOKENS = 131072  # room for a long final answer; the client trims max_tokens to fit


class JudgeError(RuntimeError):
    """The judge could not give a verdict (transport failure or unparseable reply)."""


def cache_key(model: str, problem: str, reference: str, response: str) -> str:
    payload = json.dumps([model, problem, reference, response], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def parse_verdict(reply: str) -> bool:
    """True for [Correct]; the last verdict line wins. Raises JudgeError when there is none."""
    verdicts = VERDICT.findall(reply)
    if not verdicts:
        raise JudgeError(f"no verdict in the judge's reply: {reply[-300:]!r}")
    return verdicts[-1].lower() == "correct"


def judge_endpoint(
    model: str,
    base_url: str,
    api_key_env: str | None,
    timeout_s: float,
    max_retries: int,
    retry_backoff_s: float,
) -> EndpointConfig:
    """The judge's endpoint: an OpenAI-compatible server, not a thinking model."""
    try:
        return EndpointConfig(
            backend="openai",
            model=model,
            base_urls=[base_url],
            api_key_env=api_key_env,
            thinking=False,
            context_length=JUDGE_CONTEXT_TOKENS,
            timeout_s=timeout_s,
            max_retries=max_retries,
            retry_backoff_s=retry_backoff_s,
        )
    except ValidationError as error:
        raise JudgeError(f"invalid judge endpoint: {error}") from None


def connect(config: EndpointConfig) -> LLMClient:
    """The shared client; the API key is read here, once, from the variable the configuration names."""
    try:
        return LLMClient.from_config(config)
    except MissingAPIKey:
        raise JudgeError(f"the judge's API key variable {config.api_key_env} is not set") from None


class LLMJudge:
    """An OpenAI-compatible chat endpoint used as an answer judge, with a verdict cache."""

    def __init__(
        self,
        model: str,
        base_url: str,
        cache_path: Path,
        api_key_env: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 1024,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        retry_backoff_s: float = 1.0,
    ) -> None:
        self.model = model
        self.cache_path = Path(cache_path)
        # top_p 1.0: the server's default, as the judge sent none before.
        self.generation = GenerationConfig(max_tokens=max_tokens, temperature=temperature, top_p=1.0)
        endpoint = judge_endpoint(model, base_url, api_key_env, timeout_s, max_retries, retry_backoff_s)
        self._client = connect(endpoint)
        self._cache: dict[str, bool] | None = None
        self._cache_lock = asyncio.Lock()

    async def __aenter__(self) -> LLMJudge:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _load_cache(self) -> dict[str, bool]:
        if self._cache is None:
            self._cache = {}
            if self.cache_path.exists():
                for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                    try:
                        record = json.loads(line)
                        self._cache[record["key"]] = bool(record["correct"])
                    except (json.JSONDecodeError, KeyError, TypeError):
                        continue  # a half-written last line from an interrupted run
        return self._cache

    async def _remember(self, key: str, correct: bool, reply: str) -> None:
        async with self._cache_lock:
            self._load_cache()[key] = correct
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            record = {"key": key, "model": self.model, "correct": correct, "reply": reply}
            with self.cache_path.open("a", encoding="utf-8") as cache_file:
                cache_file.write(json.dumps(record, ensure_ascii=False) + "\n")

    async def _ask(self, prompt: str) -> str:
        """The judge's reply; JudgeError once the shared client's retries are spent (or the prompt is too long)."""
        messages: list[ChatMessage] = [{"role": "user", "content": prompt}]
        try:
            generation = await self._client.generate(messages, self.generation)
        except LLMError as error:
            attempts = max(len(error.attempts), 1)
            raise JudgeError(f"judge request failed after {attempts} attempt(s): {error}") from None
        except ContextOverflow as error:
            raise JudgeError(f"judge prompt not sent: {error}") from None
        return generation.content

    async def judge(self, problem: str, reference: str, response: str) -> Grade:
        """CORRECT/INCORRECT from the judge (cached); ERROR when it gives no verdict."""
        final = strip_reasoning(response).strip()
        extracted = extract_boxed(final)
        if not final:
            return Grade(status=GradeStatus.NO_ANSWER, score=0.0, detail="empty response")
        key = cache_key(self.model, problem, reference, final)
        cached = self._load_cache().get(key)
        if cached is None:
            prompt = JUDGE_PROMPT.format(problem=problem, reference=reference, response=final)
            try:
                reply = await self._ask(prompt)
                cached = parse_verdict(reply)
            except JudgeError as error:
                return Grade(status=GradeStatus.ERROR, score=0.0, extracted=extracted, detail=str(error))
            await self._remember(key, cached, reply)
        status = GradeStatus.CORRECT if cached else GradeStatus.INCORRECT
        return Grade(status=status, score=float(cached), extracted=extracted, detail=f"LLM judge {self.model}")

    async def grade(self, sample: Sample, response: str) -> Grade:
        """The registry's grader signature, for tasks configured to use the judge."""
        reference = sample.target if isinstance(sample.target, str) else ", ".join(sample.target)
        return await self.judge(sample.input, reference, response)
