"""Optional LLM judge, the paper's protocol: does the response's final answer match the reference?

Only used when configured. Verdicts are cached in a JSON-lines file keyed by a hash of (judge
model, problem, reference, response), so grading the same outputs again makes no request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
from pathlib import Path

import httpx

from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.math import extract_boxed
from agentverse.graders.text import strip_reasoning
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
TRANSIENT_STATUS = {408, 409, 429, 500, 502, 503, 504}


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
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.cache_path = Path(cache_path)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        # The key is read here, once, from the variable the configuration names.
        headers = {"Authorization": f"Bearer {self._read_key(api_key_env)}"} if api_key_env else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout_s)
        self._cache: dict[str, bool] | None = None
        self._cache_lock = asyncio.Lock()

    @staticmethod
    def _read_key(api_key_env: str) -> str:
        key = os.environ.get(api_key_env)
        if not key:
            raise JudgeError(f"the judge's API key variable {api_key_env} is not set")
        return key

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
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        for attempt in range(self.max_retries + 1):
            try:
                reply = await self._client.post(f"{self.base_url}/chat/completions", json=body)
                if reply.status_code not in TRANSIENT_STATUS:
                    reply.raise_for_status()
                    return reply.json()["choices"][0]["message"]["content"] or ""
                failure = f"HTTP {reply.status_code}"
            except (httpx.TransportError, httpx.TimeoutException) as error:
                failure = repr(error)
            except (httpx.HTTPStatusError, KeyError, IndexError, ValueError) as error:
                raise JudgeError(f"judge request failed: {error!r}") from error
            if attempt < self.max_retries:
                await asyncio.sleep(min(30.0, 2**attempt) * (0.5 + random.random()))
        raise JudgeError(f"judge request failed after {self.max_retries + 1} attempts: {failure}")

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
