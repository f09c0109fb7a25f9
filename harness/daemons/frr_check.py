"""Check a rendered FRR configuration with FRR itself, before anything starts.

Each pod runs one rendered file, read by each of its daemons (zebra and bgpd for a router,
bgpd alone for an RR), as an integrated configuration is. A daemon skips lines it does not
know, logging `No such command on config line N`; a line no daemon of the pod knows is a
mistake in the template (vtysh judges an integrated config the same way). `-C` is FRR's dry run.
The check runs the FRR the pods will run (the lab's runtime). In an FRR with mgmtd (10.x),
mgmtd takes part of zebra's configuration; it has no dry run, so it judges the lines by
reading the file as its startup configuration (`/etc/frr/zebra.conf`, which it reads for
zebra), logging the same message, and is stopped once it has read it.

A config an FRR accepted is remembered on disk (`CACHE_DIR/accepted`, keyed by the config, the
daemons and the FRR's identity: where it comes from and its bgpd binary): judging the same
config with the same FRR again gives the same answer, and a run's start need not wait for it
(issue 18). A rejection is judged anew each time, so its message is always fresh.
"""

from __future__ import annotations

import functools
import hashlib
import re
import subprocess
import tempfile
from pathlib import Path

from harness.daemons.frr import forget_daemon_tmp
from harness.daemons.frr_runtime import FRR_BIN, HOST, FrrRuntime
from harness.errors import DaemonError
from harness.observe.wait import START_POLL, wait_until
from harness.paths import CACHE_DIR

_REJECTED = re.compile(r"No such command on config line (\d+): ?(.*)")
_MGMTD_READ = "finished reading config files"
CHECK_TIMEOUT = 30.0
ACCEPTED = CACHE_DIR / "accepted"


def _acceptance(config: str, daemons: tuple[str, ...], runtime: FrrRuntime) -> Path | None:
    """Where an accepted config's mark is kept: a name from the config, the daemons and the
    FRR (its source, and its bgpd binary's size and mtime: a new build is a new judge)."""
    try:
        binary = ((runtime.root or Path("/")) / FRR_BIN.relative_to("/") / "bgpd").stat()
    except OSError:
        return None
    key = "\0".join(
        [runtime.source, str(runtime.root), str(binary.st_size), str(binary.st_mtime_ns), *daemons]
    )
    digest = hashlib.sha256(key.encode() + b"\0" + config.encode()).hexdigest()
    return ACCEPTED / digest[:2] / digest


@functools.lru_cache(maxsize=256)
def rejected_lines(
    config: str, daemons: tuple[str, ...], runtime: FrrRuntime = HOST
) -> list[tuple[int, str]]:
    """(line number, text) of the lines every one of `daemons` rejects (plus mgmtd, where the
    runtime has it and zebra is among them). Kept per process (`rr-harness run` and its pytest
    plugin check the same configs), and an acceptance on disk (the module docstring)."""
    mark = _acceptance(config, daemons, runtime)
    if mark is not None and mark.is_file():
        return []
    bad = _judge(config, daemons, runtime)
    if not bad and mark is not None:
        try:
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.touch()
        except OSError:
            pass  # a cache that cannot be written only costs the next run the check
    return bad


def _judge(config: str, daemons: tuple[str, ...], runtime: FrrRuntime) -> list[tuple[int, str]]:
    """The lines every daemon rejects, from the daemons themselves (`-C`, mgmtd's log)."""
    per_daemon: list[dict[int, str]] = []
    with tempfile.TemporaryDirectory(prefix="rr-harness-check-", dir="/tmp") as tmp:
        directory = Path(tmp)
        directory.chmod(0o755)
        runtime.prepare(directory)
        path = directory / "frr.conf"
        path.write_text(config)
        path.chmod(0o644)
        for daemon in daemons:
            argv = [
                str(FRR_BIN / daemon), "-C", "-f", str(path),
                "-i", str(directory / f"{daemon}.pid"), "-z", str(directory / "zserv.api"),
                "--vty_socket", str(directory), *(["-Z"] if daemon == "bgpd" else []),
            ]  # fmt: skip
            with subprocess.Popen(
                runtime.command(argv, directory),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ) as proc:
                output, _ = proc.communicate(timeout=CHECK_TIMEOUT)
            if runtime.on_host:
                forget_daemon_tmp(daemon, proc.pid)
            per_daemon.append({int(m[1]): m[2] for m in _REJECTED.finditer(output)})
        if "zebra" in daemons and runtime.has("mgmtd"):
            per_daemon.append(_mgmtd_rejects(config, directory, runtime))
    common = set.intersection(*(set(d) for d in per_daemon)) if per_daemon else set()
    return sorted((n, per_daemon[0][n]) for n in common)


def _mgmtd_rejects(config: str, directory: Path, runtime: FrrRuntime) -> dict[int, str]:
    """The lines mgmtd does not know, read from its log once it has read the file."""
    (directory / "etc-frr" / "zebra.conf").write_text(config)
    log = directory / "mgmtd.log"
    log.touch()
    runtime.own(log)  # a `log ...` line makes mgmtd reopen it, as the frr user
    argv = [
        str(FRR_BIN / "mgmtd"), "-i", str(directory / "mgmtd.pid"), "--vty_socket",
        str(directory), "-P", "0", "--log", f"file:{log}",
    ]  # fmt: skip
    with subprocess.Popen(
        runtime.command(argv, directory), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    ) as proc:
        try:
            wait_until(
                lambda: log.read_text(errors="replace") if log.exists() else "",
                lambda text: _MGMTD_READ in text,
                timeout=CHECK_TIMEOUT,
                interval=START_POLL,
                what="mgmtd to read the config (dry run)",
                describe=lambda text: text[-300:],
                fail_fast=lambda: _alive(proc),
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {int(m[1]): m[2] for m in _REJECTED.finditer(log.read_text(errors="replace"))}


def _alive(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        raise DaemonError("host", f"mgmtd (dry run) exited with status {proc.returncode}")
