"""The sampler process (`python -m harness.failover.sample_process INTERVAL [MODE]`; MODE:
`tables`, the default, or `counts`, per-peer route counts only).

`--once SOCKET CLIENT` takes one sample and prints it (a base64 pickle on one line): how the
kind backend samples a pod now, through exec, with the same code.

Each line on stdin names FRR instances to sample (JSON: client -> vty socket path); each gets a
thread of its own, asking every INTERVAL seconds. Every `Sample` goes to stdout as a pickle,
through a writer thread: a harness slow to read (garbage collection, forks) delays the pipe,
never the sampling. The process ends when its stdin closes (the harness is done, or gone).
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import os
import pickle
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.daemons.vty import VtyClient
from harness.observe.samples import take_counts, take_sample

NICE = -10  # busy daemons on a small machine must not starve the sampler of CPU


def once(path: str, client: str) -> None:
    vty = VtyClient(client, Path(path), timeout=5.0)
    try:
        print(base64.b64encode(pickle.dumps(take_sample(vty, client))).decode())
    finally:
        vty.close()


Loop = Callable[[threading.Event, Callable[[bytes], None]], None]  # samples until the event
Take = Callable[[str, str], Loop]  # (client, where to ask it) -> its loop


def stream(open_sampler: Take, join_timeout: float = 5.0) -> None:
    """The protocol both sampler processes speak: each stdin line names clients (JSON: client
    -> where to ask it); `open_sampler(client, where)` returns the loop that samples it until
    the stop event, handing each pickled `Sample` to `put`; one thread per client, one writer
    thread to stdout; everything ends when stdin closes."""
    outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    stop = threading.Event()

    def write() -> None:
        out = sys.stdout.buffer
        while (data := outbox.get()) is not None:
            try:
                out.write(data)
                out.flush()
            except (BrokenPipeError, ValueError):
                stop.set()  # the harness is gone
                return

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    threads = []
    for line in sys.stdin:  # ends at EOF: the harness closed our stdin, or exited
        for client, where in json.loads(line).items():
            loop = open_sampler(client, where)
            thread = threading.Thread(target=loop, args=(stop, outbox.put), daemon=True)
            thread.start()
            threads.append(thread)
    stop.set()
    for thread in threads:
        thread.join(timeout=join_timeout)
    outbox.put(None)
    writer.join(timeout=5)


def every(
    interval: float, take: Callable[[], object]
) -> Callable[[threading.Event, Callable[[bytes], None]], None]:
    """A sampling loop: `take()` every `interval` seconds (its own time included)."""

    def loop(stop: threading.Event, put: Callable[[bytes], None]) -> None:
        while not stop.is_set():
            started = time.monotonic()
            put(pickle.dumps(take()))
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

    return loop


def main() -> None:
    if sys.argv[1] == "--once":
        once(sys.argv[2], sys.argv[3])
        return
    interval = float(sys.argv[1])
    take = take_counts if sys.argv[2:3] == ["counts"] else take_sample
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    gc.disable()  # samples hold no cycles; a collection would be a gap between samples
    sys.setswitchinterval(0.0005)

    def open_vty(client: str, path: str) -> Loop:
        def loop(stop: threading.Event, put: Callable[[bytes], None]) -> None:
            vty = VtyClient(client, Path(path), timeout=2.0)
            try:
                every(interval, lambda: take(vty, client))(stop, put)
            finally:
                vty.close()

        return loop

    stream(open_vty)


if __name__ == "__main__":
    main()
