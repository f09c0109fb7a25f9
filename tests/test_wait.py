"""wait_until: deadlines, fast polling, and the last observation on timeout."""

from __future__ import annotations

import itertools
import time

import pytest

from harness.errors import DaemonError, WaitTimeout
from harness.observe.wait import wait_until


def test_returns_the_first_satisfying_value():
    counter = itertools.count()
    assert wait_until(lambda: next(counter), lambda v: v >= 3, timeout=2, what="count") == 3


def test_timeout_carries_last_value_attempts_and_elapsed():
    counter = itertools.count()
    with pytest.raises(WaitTimeout) as err:
        wait_until(
            lambda: next(counter),
            lambda v: v < 0,
            timeout=0.3,
            what="a negative count",
            describe=lambda v: f"count={v}",
        )
    exc = err.value
    assert exc.what == "a negative count"
    assert 0.3 <= exc.elapsed < 1.0
    assert exc.attempts >= 5  # polled at <= 50 ms
    assert exc.last == f"count={exc.attempts - 1}"
    assert "waiting for a negative count; last seen: count=" in str(exc)


def test_polls_at_most_50_ms_apart():
    stamps: list[float] = []
    with pytest.raises(WaitTimeout):
        wait_until(
            lambda: stamps.append(time.monotonic()), lambda _: False, timeout=0.5, what="never"
        )
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps) < 0.05 + 0.03  # scheduling slack on a loaded 2-core machine


def test_interval_above_the_bound_is_refused():
    with pytest.raises(ValueError, match="exceeds"):
        wait_until(lambda: 1, timeout=1, what="x", interval=0.2)


def test_listed_exceptions_mean_not_yet_and_are_reported():
    def probe():
        raise FileNotFoundError("sock")

    with pytest.raises(WaitTimeout, match="last seen: FileNotFoundError: sock"):
        wait_until(probe, timeout=0.2, what="socket", retry_on=(FileNotFoundError,))


def test_other_exceptions_propagate_at_once():
    def probe():
        raise KeyError("boom")

    started = time.monotonic()
    with pytest.raises(KeyError):
        wait_until(probe, timeout=5, what="x")
    assert time.monotonic() - started < 1


def test_fail_fast_stops_the_wait():
    def dead():
        raise DaemonError("rr-0", "bgpd exited with status 1")

    with pytest.raises(DaemonError, match="rr-0: bgpd exited"):
        wait_until(lambda: False, timeout=5, what="x", fail_fast=dead)
