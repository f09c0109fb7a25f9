"""One GoBGP route server in a namespace: gobgpd with its TOML config, asked through the `gobgp`
CLI over its gRPC API.

The API listens on the namespace's own loopback (each namespace has its own 127.0.0.1), so only
the pod itself reaches it; the CLI runs inside the namespace (`ip netns exec`), with the run's
tag in its environment like every process of the run. gobgpd runs in the foreground as a child
of the harness (harness.runtime.processes), stopped and killed by PID, its log (plain text, debug
level from the start) kept in the pod's directory: gobgpd says why it does not send a route to
a peer only at debug level ("cluster list path attribute has local cluster id, ignore").
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from harness.daemons.pod_process import PodProcess
from harness.errors import CommandError, DaemonError
from harness.observe.wait import START_POLL, wait_until
from harness.runtime.processes import ManagedProcess

GOBGPD = Path("/usr/bin/gobgpd")
GOBGP = Path("/usr/bin/gobgp")  # the CLI, from the same Debian package (gobgpd)
API = ("127.0.0.1", 50051)  # gobgpd's default port, on the pod's own loopback
START_TIMEOUT = 15.0
QUERY_TIMEOUT = 10.0


def require_gobgp() -> None:
    for binary in (GOBGPD, GOBGP):
        if not binary.is_file():
            raise DaemonError(
                "host",
                f"GoBGP is not installed: {binary} is missing",
                "install it with: apt-get install -y gobgpd",
            )


def installed_version() -> str:
    """`gobgpd --version` of the installed binary: `gobgpd version 3.10.0`."""
    done = subprocess.run(
        [str(GOBGPD), "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout.strip() or done.stderr.strip()


def cli(node: str, namespace: str, command: str, env: dict[str, str], *, as_json: bool) -> str:
    """Run `gobgp [-j] COMMAND` inside the pod's namespace, against its API; CommandError with
    gobgp's own message when it fails (`{"error":"not found neighbor ..."}`)."""
    host, port = API
    argv = ["ip", "netns", "exec", namespace, str(GOBGP), "-u", host, "-p", str(port)]
    argv += [*(["-j"] if as_json else []), *command.split()]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=QUERY_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandError(node, argv, -1, f"no answer in {QUERY_TIMEOUT} s") from exc
    if done.returncode != 0:
        raise CommandError(node, argv, done.returncode, done.stdout + done.stderr)
    return done.stdout


def query(node: str, namespace: str, command: str, env: dict[str, str]) -> Any:
    """`gobgp -j COMMAND`'s parsed output."""
    text = cli(node, namespace, command, env, as_json=True)
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise CommandError(node, ["gobgp", "-j", command], 0, f"not JSON: {exc}") from exc


@dataclass
class GobgpInstance(PodProcess):
    """gobgpd of one RR pod: its start, its log, and `query` for the driver."""

    @property
    def config_path(self) -> Path:
        return self.directory / "gobgpd.toml"

    @property
    def log_path(self) -> Path:
        return self.directory / "gobgpd.log"

    def start(self) -> Self:
        self.config_path.write_text(self.config)
        host, port = API
        proc = ManagedProcess(
            node=self.node,
            name="gobgpd",
            argv=[
                str(GOBGPD),
                "--config-file",
                str(self.config_path),
                "--config-type",
                "toml",
                "--api-hosts",
                f"{host}:{port}",
                "--pprof-disable",
                "--log-plain",
                "--log-level",
                "debug",
            ],
            namespace=self.namespace,
            env=self.env,
            log=self.log_path,
            component="gobgp",
        )
        self.processes.append(proc)  # registered before start: teardown stops it either way
        proc.start()
        wait_until(
            lambda: self.query("global"),
            lambda answer: bool(answer.get("router_id")),
            timeout=START_TIMEOUT,
            interval=START_POLL,  # the API comes up in ms: look often
            what=f"{self.node} gobgpd to answer on its API ({host}:{port} in {self.namespace})",
            retry_on=(CommandError,),
            fail_fast=proc.check_alive,
        )
        return self

    def query(self, command: str) -> Any:
        """`gobgp -j COMMAND`'s parsed output (`neighbor`, `global rib -a evpn`)."""
        return query(self.node, self.namespace, command, self.env)

    def query_text(self, command: str) -> str:
        """`gobgp COMMAND`'s text output, as a reader would see it."""
        return cli(self.node, self.namespace, command, self.env, as_json=False)

    def log_text(self) -> str:
        try:
            return "== gobgpd.log ==\n" + self.log_path.read_text(errors="replace")
        except OSError:
            return "== gobgpd.log ==\n(missing)"
