"""Processes the harness starts: tagged, tracked by PID, stopped by PID with a deadline.

Daemons run in the foreground as our children (no `-d`): we reap them ourselves, so a stopped
daemon never lingers as a zombie of PID 1 (LAB-NOTES "Several FRR instances"). Each runs in
its own session so a Ctrl-C at the terminal reaches the harness, which then stops them in order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DaemonError, WaitTimeout
from harness.log import logger
from harness.observe.wait import wait_until

log = logger("processes")


def proc_state(pid: int) -> str | None:
    """The state letter from /proc/PID/stat, or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    # comm may contain spaces and parentheses: the state follows the last ')'.
    return stat[stat.rfind(")") + 2 :].split(" ", 1)[0]


def pid_running(pid: int) -> bool:
    """Alive and not a zombie (kill(pid, 0) succeeds on zombies; /proc does not lie)."""
    state = proc_state(pid)
    return state is not None and state not in ("Z", "X")


def process_name(pid: int) -> str | None:
    """The process's command name (/proc/PID/comm), or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def process_tag(pid: int, key: str) -> str | None:
    """Value of environment variable `key` in a process's initial environment."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = key.encode() + b"="
    for entry in raw.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


@dataclass
class ManagedProcess:
    """One process started in a namespace, its output going to `log`."""

    node: str
    name: str
    argv: Sequence[str]
    namespace: str
    env: dict[str, str]
    log: Path
    cwd: Path | None = None
    component: str = "processes"  # its logger: rr_harness.<component>
    # The process joins `namespace` itself, told on its stdin (`enter_namespace`): it may start
    # before the namespace is ready (harness.daemons.exabgp_start).
    joins_namespace: bool = False
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    ended_by_harness: bool = field(default=False, init=False)  # stop() or kill() was called

    def start(self) -> ManagedProcess:
        wrapper = [] if self.joins_namespace else ["ip", "netns", "exec", self.namespace]
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [*wrapper, *self.argv],
                stdin=subprocess.PIPE if self.joins_namespace else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                close_fds=True,
            )
        where = "for" if self.joins_namespace else "in"
        self._log.info("%s: %s started, PID %d, %s %s", *self._who, where, self.namespace)
        return self

    def enter_namespace(self) -> None:
        """Tell a `joins_namespace` process that its namespace is ready (and close its stdin)."""
        assert self.popen is not None and self.popen.stdin is not None, "not started to join"
        try:
            self.popen.stdin.write(f"{self.namespace}\n".encode())
            self.popen.stdin.close()
        except BrokenPipeError:  # it died: check_alive says how
            pass
        self._log.info("%s: %s (PID %d) told to enter %s", *self._who, self.namespace)

    @property
    def pid(self) -> int:
        assert self.popen is not None, "not started"
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def died(self) -> bool:
        """It ended, and not because the harness ended it."""
        return (
            self.popen is not None and self.popen.poll() is not None and not self.ended_by_harness
        )

    def check_alive(self) -> None:
        """Fail fast, with the log's tail, when the daemon has died."""
        if self.popen is not None and self.popen.poll() is not None:
            raise DaemonError(
                self.node,
                f"{self.name} exited with status {self.popen.returncode}",
                f"last lines of {self.log}:\n{tail(self.log)}",
            )

    def kill(self) -> None:
        """SIGKILL at once, as a crash would end it. Only our own PID is signalled."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self._log.info("%s: %s (PID %d) killed", *self._who)
        self.ended_by_harness = True
        self.popen.kill()
        self.popen.wait(timeout=5)

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL. Only our own PID is signalled."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.ended_by_harness = True
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._log.warning("%s: %s (PID %d) ignored SIGTERM %.1f s: killed", *self._who, grace)
            self.popen.kill()
            self.popen.wait(timeout=5)
        self._log.info("%s: %s (PID %d) stopped, status %s", *self._who, self.popen.returncode)

    @property
    def _who(self) -> tuple[str, str, int]:
        return self.node, self.name, self.pid

    @property
    def _log(self) -> logging.Logger:
        return logger(self.component)


def terminate_tagged(tagged: Mapping[int, str], key: str, grace: float = 3.0) -> list[int]:
    """Stop processes that are not our children (leftovers): SIGTERM, then SIGKILL.

    `tagged` maps PID -> the run id its environment variable `key` held when it was found;
    before every signal the tag is read again, so a PID recycled by a stranger is never hit.
    Returns the PIDs still running afterwards (empty on success). Liveness is judged from
    /proc/PID/stat: a killed daemon whose parent is gone may stay a zombie until reaped.
    """

    def ours() -> list[int]:
        return [p for p, rid in tagged.items() if pid_running(p) and process_tag(p, key) == rid]

    for sig, within in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        for pid in ours():
            log.info("leftover PID %d (run %s): %s", pid, tagged[pid], signal.Signals(sig).name)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        try:
            wait_until(
                ours, lambda alive: not alive, timeout=within, what=f"PIDs {sorted(tagged)} to exit"
            )
            return []
        except WaitTimeout:
            continue
    return ours()
