"""Where the SUT's FRR comes from, and how its daemons are launched (issue 14).

A runtime is the host's installed FRR (`host`), or a root filesystem holding another FRR: a
Debian tree built on first use (`10.3`, harness.daemons.frr_tree) or a path. A daemon of a tree
runs in its pod's namespace as
`ip netns exec NS unshare --mount sh -c SETUP ... chroot ROOT /usr/lib/frr/bgpd ...`: every
step execs the next, so the PID the harness tracks is the daemon's. The mounts (one `mount
--all` of the pod's `mounts.fstab`) are private to the daemon's mount namespace, and nothing is
written into the shared tree:
- tmpfs over the tree's /run and /tmp, and the pod's directory shown at its own path there, so
  `-f`, `-i`, `-z` and `--vty_socket` name the same files inside and out;
- the pod's `run-frr` over /run/frr (FRR 10's mgmtd sockets live there: shared by the pod's
  daemons, apart from every other pod's), `var-tmp` over /var/tmp (FRR's
  `/var/tmp/frr/<daemon>.<pid>` crash directories stay in the run's directory), and an empty
  `etc-frr` over /etc/frr (no daemon reads the tree's own configuration);
- /proc, and the namespace's /sys (`ip netns exec` mounted it).
Inside the tree the `frr` user has the tree's uid and gid: the pod's files are chowned to those.
"""

from __future__ import annotations

import functools
import os
import pwd
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from harness.daemons import frr_tree
from harness.errors import DaemonError, InputError
from harness.model.sut import HOST_FRR, SutProfile, is_frr_path

FRR_BIN = Path("/usr/lib/frr")  # the daemons' directory, on the host and in every tree
FRR_USER = "frr"
POD_SUBDIRS = ("run-frr", "var-tmp", "etc-frr")
# The directories a tree needs for the mounts above.
TREE_DIRS = ("run", "tmp", "var/tmp", "proc", "sys", "etc/frr")
SHOWN_UNDER = (Path("/run"), Path("/tmp"))  # a pod's directory must be below one of these

FSTAB = "mounts.fstab"  # in a pod's directory: the tree's mounts for the pod's daemons

# $1 the tree, $2 the pod's fstab; then the daemon's argv. One `mount --all` of the pod's
# fstab (`prepare` writes it) instead of a mount(8) per mount: each is a fork and an exec, and
# a router pod's three daemons start one after the other (issue 18). `set -e`: a mount that
# fails ends the launch with mount's own message in the daemon's log.
_SETUP = """set -e
root=$1 fstab=$2
shift 2
mount --all --fstab "$fstab"
exec chroot "$root" "$@"
"""


def _fstab(root: Path, pod: Path) -> str:
    """The mounts of the module docstring, in order, as fstab(5) lines (fields escaped);
    `X-mount.mkdir` makes the mount points inside the tmpfs just mounted."""
    entries = [
        ("rr-harness", root / "run", "tmpfs", "mode=0755"),
        ("rr-harness", root / "tmp", "tmpfs", "mode=1777"),
        (pod, root / pod.relative_to("/"), "none", "bind,X-mount.mkdir"),
        (pod / "run-frr", root / "run/frr", "none", "bind,X-mount.mkdir"),
        (pod / "var-tmp", root / "var/tmp", "none", "bind"),
        (pod / "etc-frr", root / "etc/frr", "none", "bind"),
        ("proc", root / "proc", "proc", "defaults"),
        ("/sys", root / "sys", "none", "rbind"),
    ]

    def field(value: object) -> str:
        text = str(value)
        for char in "\\ \t\n":
            text = text.replace(char, f"\\{ord(char):03o}")
        return text

    return "".join(
        f"{field(what)} {field(where)} {kind} {options} 0 0\n"
        for what, where, kind, options in entries
    )


@dataclass(frozen=True)
class FrrRuntime:
    """The FRR a lab's SUT daemons run: the host's (`root` None) or a root filesystem's."""

    root: Path | None
    source: str  # `host`, `trixie 10.3-3+deb13u1`, or `tree /path`

    @property
    def on_host(self) -> bool:
        return self.root is None

    def has(self, daemon: str) -> bool:
        """Whether this FRR ships `daemon` (FRR 10's mgmtd; 8.4 has none)."""
        return ((self.root or Path("/")) / FRR_BIN.relative_to("/") / daemon).is_file()

    @cached_property
    def version(self) -> str:
        """`bgpd --version` of this FRR: `8.4.4`, `10.3`."""
        argv = [str(FRR_BIN / "bgpd"), "--version"]
        if self.root is not None:
            argv = ["chroot", str(self.root), *argv]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DaemonError("host", f"bgpd --version of FRR {self.source} failed: {exc}") from exc
        match = re.search(r"version (\S+)", out.stdout)
        if match is None:
            raise DaemonError("host", f"bgpd --version of FRR {self.source}: {out.stdout[:200]}")
        return match.group(1)

    @cached_property
    def owner(self) -> tuple[int, int]:
        """uid and gid of the `frr` user the daemons run as, in this FRR's own user database."""
        if self.root is None:
            entry = pwd.getpwnam(FRR_USER)
            return entry.pw_uid, entry.pw_gid
        for line in (self.root / "etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if len(fields) > 3 and fields[0] == FRR_USER:
                return int(fields[2]), int(fields[3])
        raise DaemonError("host", f"{self.root}/etc/passwd has no {FRR_USER} user")

    def prepare(self, pod: Path) -> None:
        """Make a pod's directory the daemons' own (and, for a tree, what is mounted from it)."""
        uid, gid = self.owner
        os.chown(pod, uid, gid)
        if self.root is None:
            return
        for name in POD_SUBDIRS:
            (pod / name).mkdir(exist_ok=True)
        os.chown(pod / "run-frr", uid, gid)
        (pod / "var-tmp").chmod(0o1777)
        (pod / FSTAB).write_text(_fstab(self.root, pod))

    def own(self, path: Path) -> None:
        os.chown(path, *self.owner)

    def command(self, argv: Sequence[str], pod: Path) -> list[str]:
        """The argv that runs daemon `argv` (its path under FRR_BIN) from this FRR, for a pod
        whose files are in `pod`; the daemon keeps the PID of what is started."""
        if self.root is None:
            return list(argv)
        if not any(pod.is_relative_to(base) for base in SHOWN_UNDER):
            raise ValueError(f"{pod}: a pod's directory must be under /run or /tmp")
        setup = ["sh", "-c", _SETUP, "rr-harness-frr", str(self.root), str(pod / FSTAB)]
        return ["unshare", "--mount", *setup, *argv]


HOST = FrrRuntime(None, HOST_FRR)


def runtime_for(sut: SutProfile) -> FrrRuntime:
    """The FRR the SUT profile ships (`frr:`, or `--frr`): resolved once per process."""
    return resolve(sut.values.frr, sut.frr_origin)


@functools.cache
def resolve(choice: str, field: str) -> FrrRuntime:
    """`host`, a version (built from Debian on first use), or a path to a root filesystem."""
    if choice == HOST_FRR:
        require_host(field)
        return HOST
    if is_frr_path(choice):
        root = Path(choice).expanduser().resolve()
        if root == Path("/"):
            raise InputError(f"{field} {choice}: that is the host's own FRR: pick host")
        needed = ("usr/lib/frr/bgpd", "usr/lib/frr/zebra", "etc/passwd", *TREE_DIRS)
        missing = [d for d in needed if not (root / d).exists()]
        if missing:
            raise InputError(
                f"{field} {choice}: not a root filesystem with FRR (missing: {', '.join(missing)})"
            )
        return FrrRuntime(root, f"tree {root}")
    tree = frr_tree.tree(choice, field)
    return FrrRuntime(tree.root, tree.source)


def require_host(field: str = "--frr") -> None:
    for daemon in ("bgpd", "zebra"):
        if not (FRR_BIN / daemon).is_file():
            raise DaemonError(
                "host",
                f"FRR is not installed: {FRR_BIN / daemon} is missing",
                "install it with: apt-get install -y frr (or pick another FRR: --frr 10.3)",
            )
    if HOST.has("mgmtd"):
        raise InputError(
            f"{field} host: the installed FRR has mgmtd, whose sockets the pods would share; run "
            "it as a root filesystem instead (--frr 10.3, or --frr /path/to/tree)"
        )
