"""`wait_until`: poll fast against a deadline; on expiry, say what was seen last.

DESIGN pattern 4 (FRR topotests' `run_and_expect`, testcontainers' wait strategies): no fixed
sleeps anywhere; every wait has a deadline, and the error carries the last observed state, the
elapsed time and the number of attempts.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
)

from harness.errors import WaitTimeout

T = TypeVar("T")

POLL_INTERVAL = 0.05  # seconds; ISSUE 2: "≤ 50 ms polling"
START_POLL = 0.01  # at start-up (a daemon's socket, its first answer, the sessions): often


class WaitClock:
    """Seconds the main thread spent inside `wait_until`: waiting for daemons (the SUT's and
    the harness's peers) to reach a state. The rest of a run's wall time is the harness's own
    work. Reported per run (JUnit property `waited_s`) and by `rr-harness bench overhead`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0  # a wait inside a wait's probe is counted once

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._depth += 1
            if self._depth == 1:
                self._since = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        if threading.current_thread() is threading.main_thread():
            self._depth -= 1
            if self._depth == 0:
                self.seconds += time.monotonic() - self._since


WAITED = WaitClock()


def wait_until(
    probe: Callable[[], T],
    predicate: Callable[[T], bool] = bool,
    *,
    timeout: float,
    what: str,
    interval: float = POLL_INTERVAL,
    describe: Callable[[T], object] = repr,
    retry_on: tuple[type[Exception], ...] = (),
    fail_fast: Callable[[], None] | None = None,
) -> T:
    """Return the first `probe()` value satisfying `predicate`, or raise `WaitTimeout`.

    `retry_on` exceptions count as "not yet" (e.g. a socket not created yet); any other
    exception propagates at once, and so does whatever `fail_fast` raises (a daemon died).
    """
    if interval > POLL_INTERVAL:
        raise ValueError(f"interval {interval} s exceeds the {POLL_INTERVAL} s polling bound")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    started = time.monotonic()
    probe_started = started

    def attempt() -> T:
        nonlocal probe_started
        probe_started = time.monotonic()
        if fail_fast is not None:
            fail_fast()
        return probe()

    def until_next_poll(_: object) -> float:
        """Polls start `interval` apart: the probe's own duration is not added to the wait."""
        return max(0.0, interval - (time.monotonic() - probe_started))

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=until_next_poll,
        retry=retry_if_result(lambda value: not predicate(value))
        | retry_if_exception_type(retry_on),
        reraise=False,
    )
    try:
        with WAITED:
            return retrying(attempt)
    except RetryError as err:
        last = err.last_attempt
        if last.failed:
            seen: object = f"{type(last.exception()).__name__}: {last.exception()}"
        else:
            seen = describe(last.result())
        raise WaitTimeout(what, time.monotonic() - started, last.attempt_number, seen) from None


def await_no_problems(
    look: Callable[[], list[str]],
    *,
    timeout: float,
    what: str,
    fail_fast: Callable[[], None] | None = None,
) -> None:
    """Wait until `look()` finds no problem; on timeout the error lists the first ones seen."""
    wait_until(
        look,
        lambda problems: not problems,
        timeout=timeout,
        what=what,
        describe=lambda problems: "; ".join(problems[:8]),
        fail_fast=fail_fast,
    )
