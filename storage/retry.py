"""Bounded exponential backoff with jitter for transient object-store failures."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)
T = TypeVar("T")


class RetryPolicy(BaseModel):
    """How hard to retry a transient failure before giving up.

    The defaults ride out a server restart of about ten seconds: eight attempts whose
    delays double from 0.25 s up to 8 s, each drawn from the upper half of its window
    ("equal jitter") so that many workers do not retry in lockstep. A client that has
    never reached its server gives up on connection refused after ``first_contact_attempts``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(8, ge=1, le=50)
    base_delay_s: float = Field(0.25, gt=0)
    max_delay_s: float = Field(8.0, gt=0)
    #: Attempts when the very first request of a client cannot even connect (refused, no
    #: such host): that is far more often a wrong endpoint or a server not started than a
    #: restart, so the user hears about it in about a second rather than after the full
    #: budget. Once a request has got through, every failure gets ``max_attempts``.
    first_contact_attempts: int = Field(4, ge=1, le=50)
    #: Give up once this many seconds have passed since the first attempt, even with attempts
    #: left (the time spent inside attempts counts: a request stalled until its read timeout
    #: uses the budget too). None: only the attempts bound it. A scheduler with a task
    #: timeout sets it below that timeout, so a dead store fails the task with this error
    #: instead of the scheduler killing it mid-write.
    deadline_s: float | None = Field(None, gt=0, le=86_400)

    def delay(self, attempt: int, rng: random.Random = random._inst) -> float:  # type: ignore[attr-defined]
        """Sleep before retry number ``attempt`` (1-based)."""
        window = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return window / 2 + rng.uniform(0, window / 2)


class RetryBudgetExhausted(Exception):
    """A transient failure lasted through every attempt; ``last`` is the final error."""

    def __init__(self, what: str, last: BaseException, attempts: int, elapsed_s: float,
                 deadline_s: float | None = None) -> None:
        self.what, self.last, self.attempts, self.elapsed_s = what, last, attempts, elapsed_s
        self.deadline_s = deadline_s
        within = f", stopped by its {deadline_s:g}s deadline" if deadline_s is not None else ""
        super().__init__(f"{what} failed {attempts} times over {elapsed_s:.1f}s{within} "
                         f"({type(last).__name__})")


def _default_describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def call_with_retry(
    fn: Callable[[], T],
    *,
    is_transient: Callable[[BaseException], bool],
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    attempts_for: Callable[[BaseException], int] | None = None,
    describe: Callable[[BaseException], str] = _default_describe,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``fn``; retry it while it fails transiently.

    A permanent error is re-raised as it is; a transient one that lasts through every
    attempt raises RetryBudgetExhausted (chained to it). ``attempts_for`` may lower the
    attempt budget for a given error (the S3 store's first contact does). With
    ``policy.deadline_s``, a retry whose wait would end past the deadline is not made. The
    first retry logs one WARNING, later ones DEBUG, so an outage is announced once, not per
    attempt.
    """
    attempt, started = 1, clock()
    while True:
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            if not is_transient(exc):
                raise
            budget = attempts_for(exc) if attempts_for else policy.max_attempts
            wait = policy.delay(attempt)
            elapsed = clock() - started
            late = policy.deadline_s is not None and elapsed + wait > policy.deadline_s
            if attempt >= budget or late:
                raise RetryBudgetExhausted(what, exc, attempt, elapsed,
                                           deadline_s=policy.deadline_s if late else None) from exc
            _log_retry(what, describe(exc), attempt, budget, wait)
            sleep(wait)
            attempt += 1
        else:
            if attempt > 1:
                log.info("%s succeeded on attempt %d after %.1fs", what, attempt, clock() - started)
            return result


def _log_retry(what: str, why: str, attempt: int, budget: int, wait: float) -> None:
    """WARNING on the first retry of a call, DEBUG on the rest."""
    if attempt == 1:
        log.warning("%s failed (%s); retrying, up to %d more attempts (details at DEBUG)",
                    what, why, budget - 1)
    else:
        log.debug("%s failed again (%s); retry %d/%d in %.2fs", what, why, attempt,
                  budget - 1, wait)
