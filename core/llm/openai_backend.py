"""Any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server, ...) through ``openai``.

Settings come from arguments or the usual environment variables: ``OPENAI_BASE_URL``,
``OPENAI_API_KEY``, ``OPENAI_MODEL``. Without an explicit ``api_key`` the key follows the rule of
:mod:`.credentials` (the environment's key only for the environment's server or a URL trusted on
the command line). The key is passed to the client and nowhere else: it is never logged,
stored, or part of :meth:`identity`.

P(yes) comes from the first answer token's top log-probabilities where the server returns
them (method ``logprobs``), else from the share of yes among ``samples`` sampled answers
(method ``samples``). Requests run concurrently (at most ``concurrency`` at a time); the
client retries connection errors, 429s and 5xxs with exponential backoff, each try bounded by
``timeout`` seconds. An answer that cannot be parsed is retried, then recorded as a flagged
0.5 (method ``fallback``), never dropped.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import openai

from ..errors import LLMError
from .base import FALLBACK, LOGPROBS, SAMPLES, Prompt, YesNo, parse_yes_no
from .credentials import client_api_key, default_base_url

T = TypeVar("T")
CONFIDENCE_MODES = ("auto", "logprobs", "samples")


class OpenAIBackend:
    kind = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        confidence: str = "auto",
        samples: int = 5,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 3,
        parse_retries: int = 2,
    ):
        self.model = model or os.environ.get("OPENAI_MODEL") or ""
        if not self.model:
            raise LLMError("no model name: pass --model or set OPENAI_MODEL")
        self.base_url = (base_url or default_base_url()).rstrip("/")
        key = api_key or client_api_key(self.base_url)
        if confidence not in CONFIDENCE_MODES:
            raise LLMError(f"unknown confidence mode {confidence!r}; choose from {', '.join(CONFIDENCE_MODES)}")
        self.confidence = confidence
        self.samples = samples
        self.concurrency = concurrency
        self.timeout = timeout
        self.parse_retries = parse_retries
        self._client_args = {"base_url": self.base_url, "api_key": key, "timeout": timeout, "max_retries": max_retries}
        self._checked_model = False
        self._server_logprobs = True

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model, "base_url": self.base_url, "confidence": self.confidence}

    # -- protocol ---------------------------------------------------------------------------
    def score_yes_no(self, prompts: Sequence[Prompt], progress: bool = False) -> list[YesNo]:
        return _run(self._score_all(list(prompts), progress))

    def chat(self, messages: Prompt, *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        async def one():
            async with self._client() as client:
                await self._check_model(client)
                reply = await self._call(
                    client.chat.completions.create(
                        model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature, seed=seed
                    )
                )
                return reply.choices[0].message.content or ""

        return _run(one())

    # -- pieces -----------------------------------------------------------------------------
    def _client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(**self._client_args)

    async def _score_all(self, prompts: list[Prompt], progress: bool) -> list[YesNo]:
        from tqdm.auto import tqdm

        gate = asyncio.Semaphore(self.concurrency)
        bar = tqdm(total=len(prompts), desc="scoring", unit="q", disable=not progress, leave=False)
        async with self._client() as client:
            await self._check_model(client)

            async def one(prompt: Prompt) -> YesNo:
                async with gate:
                    answer = await self._score_one(client, prompt)
                bar.update()
                return answer

            try:
                return list(await asyncio.gather(*(one(p) for p in prompts)))
            finally:
                bar.close()

    async def _score_one(self, client: openai.AsyncOpenAI, prompt: Prompt) -> YesNo:
        if self.confidence == "logprobs" or (self.confidence == "auto" and self._server_logprobs):
            answer = await self._score_logprobs(client, prompt)
            if answer is not None:
                return answer
            if self.confidence == "logprobs":
                return YesNo(0.5, FALLBACK, detail="server returned no yes/no log-probabilities")
            self._server_logprobs = False  # this server gives no logprobs: stop asking it
        return await self._score_samples(client, prompt)

    async def _score_logprobs(self, client, prompt: Prompt) -> YesNo | None:
        reply = await self._call(
            client.chat.completions.create(
                model=self.model, messages=prompt, max_tokens=1, temperature=0, logprobs=True, top_logprobs=20
            )
        )
        logprobs = reply.choices[0].logprobs
        if logprobs is None or not logprobs.content:
            return None
        yes = no = 0.0
        for entry in logprobs.content[0].top_logprobs or []:
            answer = parse_yes_no(entry.token)
            if answer is True:
                yes += math.exp(entry.logprob)
            elif answer is False:
                no += math.exp(entry.logprob)
        if yes + no == 0:
            return YesNo(0.5, FALLBACK, 0.0, "neither yes nor no among the top answer tokens")
        return YesNo(yes / (yes + no), LOGPROBS, min(yes + no, 1.0))

    async def _score_samples(self, client, prompt: Prompt) -> YesNo:
        votes: list[bool] = []
        for attempt in range(self.parse_retries + 1):
            replies = await asyncio.gather(
                *(
                    self._call(
                        client.chat.completions.create(
                            model=self.model,
                            messages=prompt,
                            max_tokens=4,
                            temperature=1.0,
                            seed=attempt * self.samples + i,
                        )
                    )
                    for i in range(self.samples)
                )
            )
            votes += [v for r in replies if (v := parse_yes_no(r.choices[0].message.content or "")) is not None]
            if votes:
                return YesNo(sum(votes) / len(votes), SAMPLES, len(votes) / (self.samples * (attempt + 1)))
        return YesNo(0.5, FALLBACK, 0.0, f"no parsable yes/no in {self.samples * (self.parse_retries + 1)} samples")

    async def _check_model(self, client: openai.AsyncOpenAI) -> None:
        """Fail early and clearly when the server does not serve the model (where it lists models)."""
        if self._checked_model:
            return
        try:
            listed = [m.id async for m in client.models.list()]
        except (openai.NotFoundError, openai.BadRequestError):
            listed = []  # the server cannot list models; the first request will tell
        except openai.OpenAIError as err:
            raise _explain(err, self) from None
        if listed and self.model not in listed:
            raise LLMError(f"model {self.model!r} is not served at {self.base_url}; it serves: {', '.join(listed)}")
        self._checked_model = True

    async def _call(self, request: Awaitable[T]) -> T:
        try:
            return await request
        except openai.OpenAIError as err:
            raise _explain(err, self) from None


def _explain(err: openai.OpenAIError, backend: OpenAIBackend) -> LLMError:
    """A one-line, key-free explanation of a client error."""
    where = backend.base_url
    if isinstance(err, openai.APITimeoutError):
        return LLMError(f"the server at {where} did not answer within {backend.timeout:g} s (after retries)")
    if isinstance(err, openai.APIConnectionError):
        return LLMError(f"cannot reach an OpenAI-compatible server at {where} (check OPENAI_BASE_URL)")
    if isinstance(err, openai.AuthenticationError):
        return LLMError(
            f"the server at {where} rejected the API key or wants one (OPENAI_API_KEY goes only to "
            "OPENAI_BASE_URL or a --base-url given on the command line)"
        )
    if isinstance(err, openai.NotFoundError):
        return LLMError(f"not found at {where}: model {backend.model!r} or the endpoint does not exist")
    if isinstance(err, openai.APIStatusError):
        return LLMError(f"the server at {where} answered HTTP {err.status_code}: {_short(err.message)}")
    return LLMError(f"OpenAI-compatible backend failed: {_short(str(err))}")


def _short(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _run(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion, also from code that already runs an event loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
