"""Inside a peer pod (the harness's peer image): start the node's speaker, relay an API line,
read its recording. The harness drives it through `kubectl exec`-style API calls, so ExaBGP and
the crafted speaker keep the very process-API bridge they have on netns.

    python -m harness.backends.kind.peer_pod start   DIR SPEC   (SPEC: base64 JSON, `spec()`)
    python -m harness.backends.kind.peer_pod request DIR LINE [TIMEOUT]   (prints the reply)
    python -m harness.backends.kind.peer_pod read    DIR FILE OFFSET
    python -m harness.backends.kind.peer_pod alive   DIR        (exit 1 + log tail if not)

Exit status 0 on success; 1 with a one-line reason (and the daemon's log tail) otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from harness.daemons.api_socket import request
from harness.errors import HarnessError
from harness.runtime.processes import pid_running, tail

if TYPE_CHECKING:  # the daemons' modules (scapy) are imported by `start` alone: every exec
    from harness.model.plan import PeerSession  # starts a Python, and reads must stay quick

START_TIMEOUT = 15.0
LOGS = {"exabgp": "exabgp.log", "speaker": "speaker.log"}


def spec(node: str, kind: str, sessions: list[PeerSession], connect_retry: float = 1.0) -> str:
    """What `start` takes: the node, its daemon kind (`exabgp` or `speaker`) and sessions."""
    body = {
        "node": node,
        "kind": kind,
        "connect_retry": connect_retry,
        "sessions": [asdict(s) for s in sessions],
    }
    return base64.b64encode(json.dumps(body).encode()).decode()


def _sessions(raw: list[dict[str, object]]) -> list[PeerSession]:
    from harness.model.base import Family
    from harness.model.plan import PeerSession

    return [
        PeerSession(**{**s, "families": tuple(Family(f) for f in s["families"])})  # type: ignore[arg-type]
        for s in raw
    ]


def start(directory: Path, encoded: str) -> str:
    """Write the daemon's config, start it detached (it outlives this exec), wait until its API
    listens. Returns the daemon's PID."""
    from harness.daemons import crafted, exabgp
    from harness.observe.wait import wait_until

    body = json.loads(base64.b64decode(encoded))
    kind, sessions = body["kind"], _sessions(body["sessions"])
    directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if kind == "exabgp":
        argv, env = exabgp.prepare(directory, sessions), env | exabgp.EXABGP_ENV
    elif kind == "speaker":
        argv = crafted.prepare(directory, sessions, float(body["connect_retry"]))
    else:
        raise HarnessError(f"unknown peer kind {kind!r}")
    (directory / "kind").write_text(kind)
    with (directory / LOGS[kind]).open("ab") as log:
        daemon = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
            start_new_session=True,
        )
    (directory / "pid").write_text(str(daemon.pid))
    wait_until(
        (directory / "api.sock").exists,
        timeout=START_TIMEOUT,
        what=f"{body['node']} {kind} to listen",
        fail_fast=lambda: alive(directory),
    )
    return str(daemon.pid)


def alive(directory: Path) -> None:
    kind = (directory / "kind").read_text()
    pid = int((directory / "pid").read_text())
    if not pid_running(pid):
        raise HarnessError(
            f"{kind} (pid {pid}) has exited; last lines of its log:\n"
            + tail(directory / LOGS[kind])
        )


def main(argv: list[str]) -> int:
    try:
        command, directory, *rest = argv
        where = Path(directory)
        if command == "start":
            print(start(where, rest[0]))
        elif command == "request":  # LINE [TIMEOUT]
            kind = (where / "kind").read_text()
            timeout = float(rest[1]) if len(rest) > 1 else 10.0
            print(request(kind, where, rest[0], log=LOGS[kind], timeout=timeout))
        elif command == "read":  # nothing recorded yet reads as nothing
            recording = where / rest[0]
            if recording.exists():
                with recording.open("rb") as handle:
                    handle.seek(int(rest[1]))
                    sys.stdout.buffer.write(handle.read())
        elif command == "alive":
            alive(where)
        else:
            raise ValueError(command)
    except HarnessError as exc:
        print(f"peer_pod {argv[0]}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, IndexError, OSError) as exc:
        print(f"peer_pod {' '.join(argv[:2])}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
