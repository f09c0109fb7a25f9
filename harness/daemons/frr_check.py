"""Check a rendered FRR configuration with FRR itself, before anything starts.

Each pod runs one rendered file, read by each of its daemons (zebra and bgpd for a router,
bgpd alone for an RR), as an integrated configuration is. A daemon skips lines it does not
know, logging `No such command on config line N`; a line no daemon of the pod knows is a
mistake in the template (vtysh judges an integrated config the same way). `-C` is FRR's dry run.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from harness.daemons.frr import FRR_DIR, forget_daemon_tmp

_REJECTED = re.compile(r"No such command on config line (\d+): ?(.*)")


def rejected_lines(config: str, daemons: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line number, text) of the lines every one of `daemons` rejects."""
    per_daemon: list[dict[int, str]] = []
    with tempfile.TemporaryDirectory(prefix="rr-harness-check-") as tmp:
        directory = Path(tmp)
        directory.chmod(0o755)
        path = directory / "frr.conf"
        path.write_text(config)
        path.chmod(0o644)
        for daemon in daemons:
            argv = [
                str(FRR_DIR / daemon), "-C", "-f", str(path),
                "-i", str(directory / f"{daemon}.pid"), "-z", str(directory / "zserv.api"),
                "--vty_socket", str(directory), *(["-Z"] if daemon == "bgpd" else []),
            ]  # fmt: skip
            with subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            ) as proc:
                output, _ = proc.communicate(timeout=30)
            forget_daemon_tmp(daemon, proc.pid)
            per_daemon.append({int(m[1]): m[2] for m in _REJECTED.finditer(output)})
    common = set.intersection(*(set(d) for d in per_daemon)) if per_daemon else set()
    return sorted((n, per_daemon[0][n]) for n in common)
