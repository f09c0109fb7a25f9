"""The sampler process (`python -m harness.failover.sample_process REQUEST`): samples each FRR
instance named in REQUEST (JSON: interval, sockets) on a thread of its own and writes every
`Sample` to stdout as a pickle, until its stdin closes (the harness is done, or gone)."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pickle
import sys
import threading
import time
from pathlib import Path

from harness.daemons.vty import VtyClient
from harness.failover.sampler import take_sample

NICE = -10  # busy daemons on a small machine must not starve the sampler of CPU


def main() -> None:
    request = json.loads(sys.argv[1])
    interval = float(request["interval"])
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    gc.disable()  # samples hold no cycles; a collection would be a gap between samples
    sys.setswitchinterval(0.0005)
    out = sys.stdout.buffer
    lock = threading.Lock()
    stop = threading.Event()

    def sample(client: str, path: str) -> None:
        vty = VtyClient(client, Path(path), timeout=2.0)
        try:
            while not stop.is_set():
                started = time.monotonic()
                data = pickle.dumps(take_sample(vty, client))
                with lock:
                    out.write(data)
                    out.flush()
                stop.wait(max(0.0, interval - (time.monotonic() - started)))
        except (BrokenPipeError, ValueError):
            stop.set()  # the harness is gone
        finally:
            vty.close()

    threads = [
        threading.Thread(target=sample, args=item, daemon=True)
        for item in request["sockets"].items()
    ]
    for thread in threads:
        thread.start()
    sys.stdin.buffer.read()  # returns at EOF: the harness closed our stdin, or exited
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


if __name__ == "__main__":
    main()
