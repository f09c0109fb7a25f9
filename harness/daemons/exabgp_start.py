"""ExaBGP started ahead of its namespace (issue 18): the interpreter and ExaBGP's modules load
while the lab's namespaces are still being made, then the process joins its namespace and runs.

ExaBGP's start is mostly Python importing its modules (about 0.3 s of CPU on this machine),
and the observer's session is the last of the lab to come up: its Established starts FRR's
update-group coalescing for it, so every route reaches it that much later. Loading first and
joining the namespace afterwards takes the imports off that path.

Usage: python -m harness.daemons.exabgp_start CONFIG. The first line on stdin names the network
namespace (`ip netns` name) to join; an empty stdin (the lab gave up) ends the process. Then the
process is `python -m exabgp CONFIG` in that namespace, with stdin from /dev/null. Standard
library and ExaBGP only.
"""

from __future__ import annotations

import os
import sys

from harness.runtime.netns_socket import NETNS_DIR, join_namespace


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m harness.daemons.exabgp_start CONFIG", file=sys.stderr)
        return 2
    from exabgp.application import main as exabgp  # the slow part, before the namespace

    namespace = sys.stdin.readline().strip()
    if not namespace:
        return 1  # the lab stopped before the namespace was ready
    join_namespace(NETNS_DIR / namespace)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.argv = ["exabgp", *argv]
    exabgp.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
