"""Any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server, ...) through ``openai``.

Settings come from arguments or the usual environment variables: ``OPENAI_BASE_URL``,
``OPENAI_API_KEY``, ``OPENAI_MODEL``. Without an explicit ``api_key`` the key follows the rule of
:mod:`.credentials` (the environment's key only for the environment's server or a URL trusted on
the command line). The key is passed to the client and nowhere else: it is never logged,
stored, or part of :meth:`identity`.

P(yes) comes from the first answer token's top log-probabilities where the server returns
them (method ``logprobs``), else from the share of yes among ``samples`` sampled answers
(method ``samples``). An answer that cannot be parsed is retried, then recorded as a flagged
0.5 (method ``fallback``), never dropped.

``timeout`` (seconds per request), ``concurrency`` (the most requests in flight), ``samples`` and
``confidence`` (auto | logprobs | samples) are arguments, or else the environment variables
``DISCOLAB_OPENAI_TIMEOUT``, ``DISCOLAB_OPENAI_CONCURRENCY``, ``DISCOLAB_OPENAI_SAMPLES`` and
``DISCOLAB_OPENAI_CONFIDENCE``, or else 60, 8, 5 and auto (:func:`resolve_server_settings`).

A slow server. ``concurrency`` is a maximum: an :class:`AdaptiveLimit` keeps the number of HTTP
requests in flight (a question's ``samples`` count each) under a limit that it halves when
requests are slow (AIMD: at most once per round of requests, down to 1) and raises by one after a
run of successes, back towards the maximum. A request alone on the server is given ``timeout``
seconds. A request that started behind others waits in the server's queue, which is not the
server's fault: it is given ``timeout`` seconds for each request in flight when it started, as
long as the server answers some request every ``timeout`` seconds (the server would work on it
anyway, and asking again would only lengthen its queue), and when it has waited ``timeout``
seconds the limit comes down. Past that it is given up on and asked again, without using up its
retries. A request that timed out alone, connection errors, and 408, 409, 429 and 5xx answers
are retried ``max_retries`` times (with exponential backoff; a 429 also halves the limit); the
one-line "did not answer within" error comes only when a request timed out alone that often, or
that many requests in a row did. After a request is given up on, new requests wait half a
timeout, since a server that finishes abandoned requests is busy with it for a while. The limit
learned for a server (base URL, model, timeout) is remembered for the rest of the process, so
that the next backend built for it (each round of a discovery run builds one) starts there.

Several servers. ``base_url`` may name several servers of one model (a list, or URLs separated by
commas: one server per GPU), each checked and given its own key by :mod:`.credentials`; naming one
twice is an error. Each server has its own limiter, with ``concurrency`` its maximum, so that a
slow server backs off alone. A request goes to the server with the most room (its limit less its
requests in flight and waiting; ties in turn), so that N servers answer a batch about N times as
fast. A try that fails on a server (connection error, a timeout alone, a retryable answer) goes
at once to another server it has not failed on, and the server is passed over for ``timeout``
seconds while another can answer; only when every server failed it does the request wait the
backoff and start again, and ``max_retries`` such rounds make a one-line error naming every
server. The answers do not depend on which server gave them: :meth:`OpenAIBackend.identity`
holds the sorted URLs (one URL: that URL, as with a single server). ``usage`` counts all servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import openai

from ..errors import LLMError
from .base import FALLBACK, LOGPROBS, SAMPLES, Prompt, Usage, YesNo, parse_yes_no
from .credentials import check_base_urls, client_api_key, default_base_url

T = TypeVar("T")
CONFIDENCE_MODES = ("auto", "logprobs", "samples")
DEFAULTS: dict[str, Any] = {"timeout": 60.0, "concurrency": 8, "samples": 5, "confidence": "auto"}
ENV_VARS = {name: f"DISCOLAB_OPENAI_{name.upper()}" for name in DEFAULTS}
INITIAL_RETRY_DELAY, MAX_RETRY_DELAY, MAX_RETRY_AFTER = 0.5, 8.0, 60.0  # seconds, as the openai client
GROWTH = 4  # the limit grows by one after GROWTH x limit successes in a row


def resolve_server_settings(
    timeout: float | str | None = None,
    concurrency: int | str | None = None,
    samples: int | str | None = None,
    confidence: str | None = None,
) -> dict[str, Any]:
    """``timeout``, ``concurrency``, ``samples`` and ``confidence`` as the backend will use them:
    each argument that is not ``None``, else its ``DISCOLAB_OPENAI_*`` environment variable, else
    the default; checked (an :class:`LLMError` names the argument or variable at fault)."""
    given = {"timeout": timeout, "concurrency": concurrency, "samples": samples, "confidence": confidence}
    settings = {}
    for name, value in given.items():
        source = name
        if value is None:
            env = os.environ.get(ENV_VARS[name], "").strip()
            value, source = (env, f"{ENV_VARS[name]}={env!r}") if env else (DEFAULTS[name], name)
        settings[name] = _check(name, value, source)
    return settings


def _check(name: str, value: Any, source: str) -> Any:
    if name == "confidence":
        mode = str(value).strip().lower()
        if mode not in CONFIDENCE_MODES:
            raise LLMError(f"{source}: unknown confidence mode; choose from {', '.join(CONFIDENCE_MODES)}")
        return mode
    if name == "timeout":
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if isinstance(value, bool) or not (math.isfinite(seconds) and seconds > 0):
            raise LLMError(f"{source}: the timeout is a number of seconds > 0")
        return seconds
    try:  # concurrency, samples: whole numbers >= 1 ("8" from the environment, not 2.5 or True)
        number = int(value) if isinstance(value, str) else value.__index__()
    except (AttributeError, TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number < 1:
        what = "requests in flight" if name == "concurrency" else "sampled answers per question"
        raise LLMError(f"{source}: the {name} is a whole number >= 1 ({what})")
    return number


# -- adaptive concurrency -------------------------------------------------------------------------
@dataclass(eq=False)
class _Slot:
    epoch: int  # the limiter's epoch when the request started: only a current one moves the limit
    ahead: int = 1  # requests in flight when it started, itself included
    shared: bool = False  # another request was in flight at some time while this one was


@dataclass(eq=False)
class _LoopState:  # what belongs to one event loop: the requests in flight and those waiting
    in_flight: int = 0
    pending: int = 0  # in acquire(): waiting for a slot or for a pause to end
    active: set = field(default_factory=set)
    waiters: deque = field(default_factory=deque)


_LEARNED: dict[tuple, int] = {}  # limit learned per (base URL, model, timeout), for this process


class AdaptiveLimit:
    """At most ``limit`` requests in flight, ``limit`` moving between 1 and ``maximum`` (AIMD).

    ``acquire()`` a slot before a request and ``release(slot, outcome)`` it after, with outcome
    ``"ok"``, ``"error"`` (an error answer), ``"overload"`` (a 429), ``"timeout"`` (given up on)
    or ``"gone"`` (no answer: connection error, cancelled); call ``slow(slot)`` when a request
    has waited too long among others. Slowness, a timeout or an overload of a request started
    since the last backoff halves the limit (once per round: the requests of the round before
    saw the old limit); ``GROWTH * limit`` successes in a row raise it by one. After a timeout
    new requests wait ``pause`` seconds. Waiters are served first come, first served. The limit
    and its counts are shared by every event loop that uses the limiter; the requests in flight
    are counted per loop (each ``asyncio.run`` of a backend call has its own)."""

    def __init__(self, maximum: int, start: int | None = None, pause: float = 0.0, on_change=None):
        self.maximum = maximum
        self.limit = max(1, min(start or maximum, maximum))
        self.pause = pause
        self.backoffs = 0  # how often the limit was halved
        self.timeouts = 0  # requests that timed out (each is tried again or reported)
        self.lone_timeouts = 0  # requests in a row that timed out with no other in flight
        self.last_answer = 0.0  # time.monotonic() when the server last answered a request
        self._epoch = 0
        self._streak = 0
        self._resume_at = 0.0  # time.monotonic() before which no request starts
        self._on_change = on_change
        self._loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if loop not in self._loops:
            self._loops[loop] = _LoopState()
        return self._loops[loop]

    def room(self) -> int:
        """Slots free now in this event loop: the limit less the requests in flight and those
        waiting for a slot (negative: a queue). A backend of several servers sends a request to the
        server with the most."""
        state = self._state()
        return self.limit - state.in_flight - state.pending

    async def acquire(self) -> _Slot:
        state = self._state()
        state.pending += 1
        try:
            await self._wait_turn(state)
        finally:
            state.pending -= 1
        state.in_flight += 1
        slot = _Slot(self._epoch, ahead=state.in_flight, shared=bool(state.active))
        for other in state.active:
            other.shared = True
        state.active.add(slot)
        self._wake(state)  # room for more: the next in line need not wait for a release
        return slot

    async def _wait_turn(self, state: _LoopState) -> None:
        """Wait until a request may start: no pause, and a slot free for the first in line."""
        woken = False
        while True:
            wait = self._resume_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if state.in_flight < self.limit:
                break
            waiter = asyncio.get_running_loop().create_future()
            if woken:  # woken, but another took the slot first: stay first in line
                state.waiters.appendleft(waiter)
            else:
                state.waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in state.waiters:
                    state.waiters.remove(waiter)
                else:  # woken, then cancelled: pass the turn on
                    self._wake(state)
                raise
            woken = True

    def slow(self, slot: _Slot) -> None:
        """``slot``'s request has waited a timeout among others: back off, once per round."""
        self._streak = 0
        if slot.epoch == self._epoch and self.limit > 1:
            self.backoffs += 1
            self._epoch += 1
            self._set(max(1, self.limit // 2))

    def release(self, slot: _Slot, outcome: str) -> None:
        state = self._state()
        state.in_flight -= 1
        state.active.discard(slot)
        if outcome in ("ok", "error", "overload"):  # the server answered
            self.last_answer = time.monotonic()
        if outcome == "ok":
            self.lone_timeouts = 0
            if slot.epoch == self._epoch:
                self._streak += 1
                if self._streak >= GROWTH * self.limit and self.limit < self.maximum:
                    self._set(self.limit + 1)
        elif outcome in ("timeout", "overload"):
            if outcome == "timeout":  # given up on: the server may still be working on it
                self.timeouts += 1
                self.lone_timeouts = 0 if slot.shared else self.lone_timeouts + 1
                self._resume_at = max(self._resume_at, time.monotonic() + self.pause)
            self.slow(slot)
        self._wake(state)

    def _set(self, limit: int) -> None:
        self.limit, self._streak = limit, 0
        if self._on_change:
            self._on_change(limit)

    def _wake(self, state: _LoopState) -> None:
        room = self.limit - state.in_flight
        while room > 0 and state.waiters:
            waiter = state.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                room -= 1


@dataclass(eq=False)
class _Server:
    """One server of a backend: its URL, what its client is built from (the key that may go to
    this URL, never shown: ``repr=False``) and its own limiter, so that a slow server backs off
    without throttling the others."""

    url: str
    client_args: dict = field(repr=False)
    limiter: AdaptiveLimit
    checked: bool = False  # it serves the model, or cannot list its models
    resting_until: float = 0.0  # time.monotonic() before which it is passed over while another can answer
    _checking: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary, repr=False)

    def checking(self) -> asyncio.Lock:
        """The lock under which this event loop checks the model, once: the requests that started
        behind the first wait for its check, and then reach the server in the order they started."""
        loop = asyncio.get_running_loop()
        if loop not in self._checking:
            self._checking[loop] = asyncio.Lock()
        return self._checking[loop]


_Clients = dict[_Server, openai.AsyncOpenAI]  # a client per server, for one event loop
_Request = Callable[[openai.AsyncOpenAI], Awaitable[T]]  # a request, given the client of the server it goes to


class OpenAIBackend:
    kind = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        confidence: str | None = None,
        samples: int | None = None,
        concurrency: int | None = None,
        timeout: float | None = None,
        max_retries: int = 3,
        parse_retries: int = 2,
    ):
        self.model = model or os.environ.get("OPENAI_MODEL") or ""
        if not self.model:
            raise LLMError("no model name: pass --model or set OPENAI_MODEL")
        settings = resolve_server_settings(timeout, concurrency, samples, confidence)
        for name, value in (("max_retries", max_retries), ("parse_retries", parse_retries)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LLMError(f"{name}: a whole number >= 0")
        urls = check_base_urls(base_url, "--base-url") if base_url else [default_base_url()]
        self.base_urls: tuple[str, ...] = tuple(url.strip().rstrip("/") for url in urls)
        self.base_url = ",".join(self.base_urls)  # as --base-url takes them; one URL: that URL
        self.confidence: str = settings["confidence"]
        self.samples: int = settings["samples"]
        self.concurrency: int = settings["concurrency"]  # the most requests in flight, per server
        self.timeout: float = settings["timeout"]
        self.max_retries = max_retries
        self.parse_retries = parse_retries
        # The client does not retry: _request does, and keeps the time (the client's timeout is a backstop).
        backstop = httpx.Timeout(self.timeout * (self.concurrency + 1), connect=self.timeout)
        self.servers = [self._server(url, api_key, backstop) for url in self.base_urls]
        self._turn = 0  # the server first in line among those with as much room
        self._server_logprobs = True
        self.usage = Usage()  # tokens as the servers report them, all added (CachedBackend adds calls, hits, time)

    def _server(self, url: str, api_key: str | None, backstop: httpx.Timeout) -> _Server:
        """A server with the key that may go to it (an explicit ``api_key`` goes to every URL given
        with it) and a limiter that starts at the limit learned for it in this process."""
        key = api_key or client_api_key(url)
        args = {"base_url": url, "api_key": key, "timeout": backstop, "max_retries": 0}
        learned = (url, self.model, self.timeout)
        limiter = AdaptiveLimit(
            self.concurrency,
            start=_LEARNED.get(learned),
            pause=self.timeout / 2,
            on_change=lambda limit: _LEARNED.__setitem__(learned, limit),
        )
        return _Server(url, args, limiter)

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def concurrency_now(self) -> int:
        """The number of requests allowed in flight now, all servers together (between one and
        ``concurrency`` per server)."""
        return sum(server.limiter.limit for server in self.servers)

    @property
    def backoffs(self) -> int:
        """How often this backend's servers halved their concurrency after a timeout or a 429."""
        return sum(server.limiter.backoffs for server in self.servers)

    def identity(self) -> dict[str, Any]:
        """What decides the answers. Not the timeout or the concurrency; ``samples`` only where
        sampled answers can be used and it differs from the default 5, so that answers cached
        before it could be set keep their keys. Several servers serve one model: the sorted list of
        their URLs, whichever of them answered (one server: its URL, as before there could be more)."""
        urls = self.base_urls[0] if len(self.base_urls) == 1 else sorted(self.base_urls)
        identity = {"kind": self.kind, "model": self.model, "base_url": urls, "confidence": self.confidence}
        if self.confidence != "logprobs" and self.samples != DEFAULTS["samples"]:
            identity["samples"] = self.samples
        return identity

    # -- protocol ---------------------------------------------------------------------------
    def score_yes_no(self, prompts: Sequence[Prompt], progress: bool = False) -> list[YesNo]:
        return _run(self._score_all(list(prompts), progress))

    def chat(self, messages: Prompt, *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        async def one():
            async with self._clients() as clients:
                reply = await self._call(
                    clients,
                    lambda client: client.chat.completions.create(
                        model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature, seed=seed
                    ),
                )
                return reply.choices[0].message.content or ""

        return _run(one())

    # -- pieces -----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _clients(self) -> AsyncIterator[dict[_Server, openai.AsyncOpenAI]]:
        """A client per server, for one event loop (a client's connections belong to the loop it ran in)."""
        async with contextlib.AsyncExitStack() as stack:
            yield {s: await stack.enter_async_context(openai.AsyncOpenAI(**s.client_args)) for s in self.servers}

    async def _score_all(self, prompts: list[Prompt], progress: bool) -> list[YesNo]:
        from tqdm.auto import tqdm

        # Prompts started at a time (bounds the coroutines waiting); the limiters bound the requests.
        gate = asyncio.Semaphore(self.concurrency * len(self.servers))
        bar = tqdm(total=len(prompts), desc="scoring", unit="q", disable=not progress, leave=False)
        async with self._clients() as clients:

            async def one(prompt: Prompt) -> YesNo:
                async with gate:
                    answer = await self._score_one(clients, prompt)
                bar.update()
                return answer

            try:
                return list(await asyncio.gather(*(one(p) for p in prompts)))
            finally:
                bar.close()

    async def _score_one(self, clients: _Clients, prompt: Prompt) -> YesNo:
        if self.confidence == "logprobs" or (self.confidence == "auto" and self._server_logprobs):
            answer = await self._score_logprobs(clients, prompt)
            if answer is not None:
                return answer
            if self.confidence == "logprobs":
                return YesNo(0.5, FALLBACK, detail="server returned no yes/no log-probabilities")
            self._server_logprobs = False  # this server gives no logprobs: stop asking it
        return await self._score_samples(clients, prompt)

    async def _score_logprobs(self, clients: _Clients, prompt: Prompt) -> YesNo | None:
        reply = await self._call(
            clients,
            lambda client: client.chat.completions.create(
                model=self.model, messages=prompt, max_tokens=1, temperature=0, logprobs=True, top_logprobs=20
            ),
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

    async def _score_samples(self, clients: _Clients, prompt: Prompt) -> YesNo:
        votes: list[bool] = []
        for attempt in range(self.parse_retries + 1):
            replies = await asyncio.gather(
                *(
                    self._call(
                        clients,
                        lambda client, seed=attempt * self.samples + i: client.chat.completions.create(
                            model=self.model, messages=prompt, max_tokens=4, temperature=1.0, seed=seed
                        ),
                    )
                    for i in range(self.samples)
                )
            )
            votes += [v for r in replies if (v := parse_yes_no(r.choices[0].message.content or "")) is not None]
            if votes:
                return YesNo(sum(votes) / len(votes), SAMPLES, len(votes) / (self.samples * (attempt + 1)))
        return YesNo(0.5, FALLBACK, 0.0, f"no parsable yes/no in {self.samples * (self.parse_retries + 1)} samples")

    async def _checked(self, server: _Server, client: openai.AsyncOpenAI, request: _Request[T]) -> T:
        """``request(client)``, after checking once that the server serves the model (where it
        lists models): a wrong model name fails early and clearly. The check is part of the
        request's try on that server, so that a server that is down fails over like any request."""
        if not server.checked:
            async with server.checking():
                if not server.checked:
                    try:
                        listed = [m.id for m in (await client.models.list()).data]
                    except (openai.NotFoundError, openai.BadRequestError):
                        listed = []  # the server cannot list models; the request will tell
                    if listed and self.model not in listed:
                        served = ", ".join(listed)
                        raise LLMError(f"model {self.model!r} is not served at {server.url}; it serves: {served}")
                    server.checked = True
        return await request(client)

    async def _call(self, clients: _Clients, request: _Request[T]) -> T:
        reply = await self._request(clients, request)
        usage = getattr(reply, "usage", None)  # the server's count, where it gives one
        if usage is not None:
            self.usage.prompt_tokens += usage.prompt_tokens or 0
            self.usage.completion_tokens += usage.completion_tokens or 0
        return reply

    def _pick(self, failed: dict[_Server, Exception]) -> _Server:
        """The server a request goes to: of those that have not failed it yet, those that have not
        failed lately first (one that did rests ``timeout`` seconds while another can answer), then
        the one with the most room in its limiter, then the next in turn (round-robin on ties)."""
        now, count = time.monotonic(), len(self.servers)
        candidates = [i for i, server in enumerate(self.servers) if server not in failed]

        def rank(i: int) -> tuple:
            server = self.servers[i]
            return (server.resting_until > now, -server.limiter.room(), (i - self._turn) % count)

        chosen = min(candidates, key=rank)
        self._turn = (chosen + 1) % count
        return self.servers[chosen]

    async def _request(self, clients: _Clients, request: _Request[T]) -> T:
        """``request(client)`` on a server (:meth:`_pick`), in a slot of its limiter, tried again as
        the module's docstring says; an :class:`LLMError` when it cannot be answered. A try that
        failed on one server goes to another at once where there is one it has not failed on; when
        it has failed on all of them (one round), it waits the backoff and starts a new round, and
        ``max_retries`` such retries use it up."""
        retries = 0
        failed: dict[_Server, Exception] = {}  # this round's servers that failed the request
        hopeless: set[_Server] = set()  # of those, the ones that timed out alone that often
        while True:
            server = self._pick(failed)
            slot = await server.limiter.acquire()
            outcome = "gone"
            try:
                result = await self._in_time(server, self._checked(server, clients[server], request), slot)
                outcome = "ok"
                server.resting_until = 0.0
                return result
            except openai.APITimeoutError as err:
                outcome = "timeout"
                if slot.shared:  # it waited behind others: the limiter has backed off; try again as it was
                    continue
                failed[server] = err
                if server.limiter.lone_timeouts >= self.max_retries:  # it answered none of that many alone
                    hopeless.add(server)
            except (openai.APIConnectionError, openai.APIStatusError) as err:
                if isinstance(err, openai.APIStatusError):
                    outcome = "overload" if isinstance(err, openai.RateLimitError) else "error"
                if not _retryable(err):
                    raise _explain(err, self, server.url) from None
                failed[server] = err
            except openai.OpenAIError as err:
                raise _explain(err, self, server.url) from None
            finally:
                server.limiter.release(slot, outcome)
            if len(self.servers) > 1:
                server.resting_until = time.monotonic() + self.timeout
            if len(failed) < len(self.servers):
                continue  # another server may answer it now
            if retries >= self.max_retries or hopeless == set(failed):
                raise self._unanswered(failed)
            error = failed[server]
            failed.clear()
            hopeless.clear()
            retries += 1
            if outcome != "timeout":  # after a timeout the limiter pauses
                await asyncio.sleep(_retry_delay(retries - 1, error))

    def _unanswered(self, failed: dict[_Server, Exception]) -> LLMError:
        """The error when no server answered a request: one server's own, or every server's."""
        reasons = [str(_explain(err, self, server.url)) for server, err in failed.items()]
        if len(reasons) == 1:
            return LLMError(reasons[0])
        return LLMError(f"none of the {len(reasons)} servers answered: " + "; ".join(reasons))

    async def _in_time(self, server: _Server, request: Awaitable[T], slot: _Slot) -> T:
        """``request`` on ``server``, given up on when the server has answered nothing (to any request)
        for ``timeout`` seconds while it waited, or after ``timeout`` seconds for each request that was
        in flight when it started, itself included. So a request queued behind others on a server that
        answers one at a time is not given up on while the queue moves (the server would work on it
        anyway, and asking again only lengthens the queue), but the limiter backs off."""
        limiter = server.limiter
        task = asyncio.ensure_future(request)
        start = time.monotonic()
        latest = start + self.timeout * slot.ahead
        slow = False
        try:
            while True:
                deadline = min(latest, max(start, limiter.last_answer) + self.timeout)
                wait = deadline - time.monotonic()
                if wait <= 0:
                    raise openai.APITimeoutError(request=httpx.Request("POST", server.url))
                done, _ = await asyncio.wait({task}, timeout=wait)
                if done:
                    return task.result()
                if not slow and slot.shared and time.monotonic() - start >= self.timeout:
                    slow = True
                    limiter.slow(slot)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})


def _retryable(err: openai.APIConnectionError | openai.APIStatusError) -> bool:
    """What the openai client retries: connection errors, 408, 409, 429 and 5xx, unless the server
    says otherwise."""
    if not isinstance(err, openai.APIStatusError):
        return True
    header = err.response.headers.get("x-should-retry")
    if header in ("true", "false"):
        return header == "true"
    return err.status_code in (408, 409, 429) or err.status_code >= 500


def _retry_delay(retries: int, err: Exception) -> float:
    response = getattr(err, "response", None)
    try:
        after = float(response.headers.get("retry-after", "")) if response is not None else math.nan
    except ValueError:
        after = math.nan
    if 0 < after <= MAX_RETRY_AFTER:
        return after
    return min(INITIAL_RETRY_DELAY * 2.0**retries, MAX_RETRY_DELAY) * (1 - 0.25 * random.random())


def _explain(err: openai.OpenAIError, backend: OpenAIBackend, where: str) -> LLMError:
    """A one-line, key-free explanation of a client error from the server at ``where``."""
    if isinstance(err, openai.APITimeoutError):
        return LLMError(
            f"the server at {where} did not answer within {backend.timeout:g} s (after retries, one request at a "
            f"time); allow it longer with --timeout or {ENV_VARS['timeout']}"
        )
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
