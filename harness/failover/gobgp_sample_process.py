"""The sampler process of GoBGP RR pods (`python -m harness.failover.gobgp_sample_process
INTERVAL [MODE]`), speaking harness.failover.sample_process's protocol: each line on stdin names
pods to sample (JSON: client -> the pod's network namespace), each gets a thread asking every
INTERVAL seconds, every `Sample` goes to stdout as a pickle; the process ends when stdin closes.

A GoBGP pod is asked through the `gobgp` CLI inside its namespace (its API is on the pod's own
loopback): one call takes about 25 ms, so its samples are that far apart. RR pods are sampled
for their sessions only (MODE makes no difference): their tables are never judged.
"""

from __future__ import annotations

import os
import sys

from harness.daemons.gobgp import query
from harness.failover.sample_process import Loop, every, stream
from harness.observe.gobgp import take_sample


def main() -> None:
    interval = float(sys.argv[1])
    env = dict(os.environ)

    def open_pod(client: str, namespace: str) -> Loop:
        return every(
            interval,
            lambda: take_sample(lambda command: query(client, namespace, command, env), client),
        )

    stream(open_pod, join_timeout=15)


if __name__ == "__main__":
    main()
