"""The sampler process of GoBGP RR pods (`python -m harness.failover.gobgp_sample_process
INTERVAL [MODE]`), speaking harness.failover.sample_process's protocol: each line on stdin names
pods to sample (JSON: client -> the pod's network namespace), each gets a thread asking every
INTERVAL seconds, every `Sample` goes to stdout as a pickle; the process ends when stdin closes.

A GoBGP pod is asked through the `gobgp` CLI inside its namespace (its API is on the pod's own
loopback): one call takes about 25 ms, so its samples are that far apart. RR pods are sampled
for their sessions only (MODE makes no difference): their tables are never judged.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import sys
import threading
import time

from harness.daemons.gobgp import query
from harness.observe.gobgp import take_sample


def main() -> None:
    interval = float(sys.argv[1])
    outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    stop = threading.Event()
    env = dict(os.environ)

    def sample(client: str, namespace: str) -> None:
        while not stop.is_set():
            started = time.monotonic()
            taken = take_sample(lambda command: query(client, namespace, command, env), client)
            outbox.put(pickle.dumps(taken))
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

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
        for client, namespace in json.loads(line).items():
            thread = threading.Thread(target=sample, args=(client, namespace), daemon=True)
            thread.start()
            threads.append(thread)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    outbox.put(None)
    writer.join(timeout=5)


if __name__ == "__main__":
    main()
