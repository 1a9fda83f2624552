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
    ("equal jitter") so that many workers do not retry in lockstep.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(8, ge=1, le=50)
    base_delay_s: float = Field(0.25, gt=0)
    max_delay_s: float = Field(8.0, gt=0)

    def delay(self, attempt: int, rng: random.Random = random._inst) -> float:  # type: ignore[attr-defined]
        """Sleep before retry number ``attempt`` (1-based)."""
        window = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return window / 2 + rng.uniform(0, window / 2)


def call_with_retry(
    fn: Callable[[], T],
    *,
    is_transient: Callable[[BaseException], bool],
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``fn``; retry it while it fails transiently, re-raise the last error otherwise."""
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            if not is_transient(exc) or attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt)
            log.warning("%s failed (%s: %s); retry %d/%d in %.2fs", what, type(exc).__name__,
                        exc, attempt, policy.max_attempts - 1, wait)
            sleep(wait)
            attempt += 1
