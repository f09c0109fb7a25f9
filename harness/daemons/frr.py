"""One FRR instance in a namespace: bgpd, plus zebra for routers (and mgmtd before zebra, in
an FRR that has it: 10.x).

Every path is explicit and per instance (LAB-NOTES "Several FRR instances on one host"): config,
pid file, zserv socket, vty socket directory, log. Route reflectors run bgpd alone (`-Z`): they
are pure control plane. Daemons run in the foreground as children of the harness, from the
lab's FRR runtime (the host's FRR, or a root filesystem's: harness.daemons.frr_runtime).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from harness.daemons.frr_runtime import FRR_BIN, HOST, FrrRuntime
from harness.daemons.vty import CONFIG_END, CONFIG_START, VtyClient
from harness.errors import CommandError
from harness.observe.wait import START_POLL, wait_until
from harness.paths import FRR_HOST_TMP
from harness.runtime.processes import ManagedProcess

START_TIMEOUT = 15.0
MGMTD_BACKEND = "run-frr/mgmtd_be.sock"  # where zebra finds mgmtd (the pod's /run/frr)
# Sockets the daemons make: a restart in place finds the killed ones' files, which must not
# pass for the new daemons' (the waits below look for them).
SOCKETS = (
    "mgmtd.vty",
    "zebra.vty",
    "bgpd.vty",
    "zserv.api",
    MGMTD_BACKEND,
    "run-frr/mgmtd_fe.sock",
)


# zebra's netlink receive buffer (`-s`, octets). The default overruns when a pod's bridge learns
# 100k MACs at once (measured: `netlink-listen recvmsg overrun: No buffer space available`, and
# zebra loses MACs); as a node running many workloads would size it.
NETLINK_BUFFER = 64 << 20


@dataclass
class FrrInstance:
    node: str
    namespace: str
    directory: Path
    config: str
    env: dict[str, str]
    with_zebra: bool
    runtime: FrrRuntime = HOST
    processes: list[ManagedProcess] = field(default_factory=list)
    vty: VtyClient = field(init=False)

    def __post_init__(self) -> None:
        self.vty = VtyClient(self.node, self.directory / "bgpd.vty")

    @property
    def with_mgmtd(self) -> bool:
        """FRR 10's zebra takes part of its configuration from mgmtd, started before it."""
        return self.with_zebra and self.runtime.has("mgmtd")

    def _argv(self, daemon: str) -> list[str]:
        d = self.directory
        argv = [str(FRR_BIN / daemon)]
        if daemon != "mgmtd":  # mgmtd has no -f (nor -z): see _configure_mgmtd
            argv += ["-f", str(d / f"{daemon}.conf"), "-z", str(d / "zserv.api")]
        argv += [
            "-i",
            str(d / f"{daemon}.pid"),
            "--vty_socket",
            str(d),
            "-P",
            "0",
            "--log",
            f"file:{d / f'{daemon}.log'}",
        ]
        if daemon == "bgpd" and not self.with_zebra:
            argv.append("-Z")
        if daemon == "zebra":
            argv += ["-s", str(NETLINK_BUFFER)]
        return self.runtime.command(argv, d)

    def _spawn(self, daemon: str) -> ManagedProcess:
        log = self.directory / f"{daemon}.log"
        log.touch()
        self.runtime.own(log)  # a `log ...` line makes the daemon reopen it, as the frr user
        proc = ManagedProcess(
            node=self.node,
            name=daemon,
            argv=self._argv(daemon),
            namespace=self.namespace,
            env=self.env,
            log=self.directory / f"{daemon}.stdout",
            component="frr",
        )
        self.processes.append(proc)  # registered before start: teardown stops it either way
        return proc.start()

    def _await(self, proc: ManagedProcess, socket_name: str) -> None:
        wait_until(
            (self.directory / socket_name).exists,
            timeout=START_TIMEOUT,
            interval=START_POLL,  # a daemon's socket appears in ms: look often
            what=f"{self.node} {proc.name} to create {socket_name}",
            fail_fast=proc.check_alive,
        )

    def start(self, before_bgpd: Callable[[], object] | None = None) -> Self:
        """mgmtd, zebra, then bgpd, each once the one before made its socket; `before_bgpd`
        (the lab's route reflectors being up) is awaited just before bgpd starts."""
        d = self.directory
        # One rendered file, read by each daemon as an integrated config is: zebra takes its
        # lines (`ip nht ...`), bgpd its own (harness/daemons/frr_check.py checked the rest).
        for path in (d / "bgpd.conf", d / "zebra.conf"):
            path.write_text(self.config)
            self.runtime.own(path)
        for name in SOCKETS:
            (d / name).unlink(missing_ok=True)
        if self.with_mgmtd:
            mgmtd = self._spawn("mgmtd")
            self._await(mgmtd, "mgmtd.vty")
            self._await(mgmtd, MGMTD_BACKEND)
        if self.with_zebra:
            self._await(self._spawn("zebra"), "zserv.api")
        if self.with_mgmtd:
            self._configure_mgmtd()
        if before_bgpd is not None:
            before_bgpd()
        bgpd = self._spawn("bgpd")
        self._await(bgpd, "bgpd.vty")
        wait_until(
            lambda: self.vty.run("show bgp summary json"),
            lambda _: True,
            timeout=START_TIMEOUT,
            interval=START_POLL,  # a daemon's socket appears in ms: look often
            what=f"{self.node} bgpd to answer on its vty",
            retry_on=(OSError,),
            fail_fast=bgpd.check_alive,
        )
        return self

    def _configure_mgmtd(self) -> None:
        """mgmtd reads no file of ours: the pod's config is given to it as `vtysh -b` gives an
        integrated config to each daemon. A top-level line mgmtd refuses belongs to another
        daemon of the pod (frr_check made sure one takes it), and so do the lines indented
        under it; the rest (`ip nht resolve-via-default` in FRR 10) is mgmtd's."""
        vty = VtyClient(self.node, self.directory / "mgmtd.vty")
        try:
            vty.run("configure terminal")
            refused_at: int | None = None  # the depth of a refused node: its body is skipped
            for line in self.config.splitlines():
                text = line.strip()
                depth = len(line) - len(line.lstrip())
                if not text or text.startswith("!"):
                    continue
                if refused_at is not None:
                    if depth > refused_at or (depth == refused_at and text.startswith("exit")):
                        continue
                    refused_at = None
                try:
                    vty.run(text)
                except CommandError:
                    refused_at = depth
        finally:
            with contextlib.suppress(CommandError, OSError):
                vty.run("end")
            vty.close()

    def check_alive(self) -> None:
        for proc in self.processes:
            proc.check_alive()

    def query(self, command: str) -> Any:
        """A `show ... json` command's parsed output."""
        return self.vty.json(command)

    def configure(self, batches: list[list[str]]) -> None:
        """Run configuration command batches (`configure terminal` ... `end`) on bgpd. A
        command FRR refuses ends its batch; before the error is raised, a bracket the batch
        opened (vty.CONFIG_START) is closed, as vtysh -f closes it whatever failed, and the
        session is taken out of configuration mode (otherwise bgpd would hold back every new
        neighbor's session for 600 s)."""
        for batch in batches:
            with self.vty.exclusive():
                sent: list[str] = []
                try:
                    for command in batch:
                        self.vty.run(command)
                        sent.append(command)
                except (CommandError, OSError):
                    closing = [*([CONFIG_END] if CONFIG_START in sent else []), "end"]
                    with contextlib.suppress(CommandError, OSError):
                        for command in closing:
                            self.vty.run(command)
                    raise

    def query_text(self, command: str) -> str:
        """A command's text output (what FRR shows only as text, e.g. the running config)."""
        return self.vty.run(command)

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM (bgpd says goodbye to its peers), SIGKILL after `grace` seconds."""
        self._end(lambda proc: proc.stop(grace))

    def kill(self) -> None:
        """SIGKILL, as a crash: the kernel closes the TCP sessions, bgpd says nothing. The
        instance is then simply not running (a crash on purpose is not a daemon dying)."""
        self._end(ManagedProcess.kill)
        self.processes.clear()

    def restart(self) -> Self:
        """Kill and start again with the same config, address and paths: the kubelet restarting
        a crashed container in place."""
        self.kill()
        return self.start()

    def _end(self, how: Callable[[ManagedProcess], None]) -> None:
        self.vty.close()
        for proc in reversed(self.processes):  # bgpd before zebra before mgmtd
            how(proc)
            if proc.popen is not None and self.runtime.on_host:  # a tree's stay in the pod's
                forget_daemon_tmp(proc.name, proc.pid, keep_in=self.directory)

    def log_text(self) -> str:
        return "\n".join(
            f"== {p.name}.log ==\n" + _read(self.directory / f"{p.name}.log")
            for p in self.processes
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return "(missing)"


def forget_daemon_tmp(daemon: str, pid: int, keep_in: Path | None = None) -> None:
    """Remove the per-process directory FRR made in /var/tmp/frr for a daemon we ran (by PID,
    so never another's); a crash log in it is kept in `keep_in` first, as evidence."""
    directory = FRR_HOST_TMP / f"{daemon}.{pid}"
    if not directory.is_dir():
        return
    if keep_in is not None:
        for item in directory.iterdir():
            with contextlib.suppress(OSError):
                shutil.copy2(item, keep_in / f"{daemon}.{pid}-crash-{item.name}")
    shutil.rmtree(directory, ignore_errors=True)
