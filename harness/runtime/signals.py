"""Signals held back while the harness restores the machine."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_DEFERRED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Teardown is not cut short by a second Ctrl-C, a SIGTERM or a hang-up: it is what
    restores the machine. The signals stay pending and are delivered when it is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
