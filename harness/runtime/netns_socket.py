"""A socket made in another network namespace, from any thread (setns(2) moves the calling
thread only, and the socket stays in the namespace it was made in), and a named namespace made
without a fork (unshare(2) in the calling thread, its namespace bound where `ip netns` keeps
them, the thread back in its own). Standard library only: the crafted speakers' one process
(`harness.daemons.speaker_process`) uses it too."""

from __future__ import annotations

import ctypes
import os
import socket
from pathlib import Path

CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_SHARED = 0x1000, 0x4000, 0x100000
NETNS_DIR = Path("/run/netns")
_libc = ctypes.CDLL(None, use_errno=True)
_shared: list[bool] = []  # NETNS_DIR is a shared mount (made so once per process)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


def join_namespace(path: Path) -> None:
    """Move the calling thread into the network namespace at `path` (in a single-threaded
    process, the process: what `ip netns exec` does before it runs a command)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _setns(fd)
    finally:
        os.close(fd)


def _share_netns_dir() -> None:
    """Make NETNS_DIR a shared mount, as `ip netns add` does, so a namespace bound in it is
    seen by every mount namespace (`ip netns exec` makes one per process)."""
    if _shared:
        return
    NETNS_DIR.mkdir(mode=0o755, exist_ok=True)
    directory = bytes(NETNS_DIR)
    if _libc.mount(b"none", directory, None, MS_SHARED | MS_REC, None) != 0:
        # not a mount point yet: bind it onto itself first
        _check(_libc.mount(directory, directory, b"none", MS_BIND | MS_REC, None), "bind")
        _check(_libc.mount(b"none", directory, None, MS_SHARED | MS_REC, None), "share")
    _shared.append(True)


def create_namespace(name: str) -> None:
    """A new network namespace `NETNS_DIR/name` (what `ip netns add` makes), without a fork:
    the calling thread unshares, its new namespace is bound to the name, and the thread goes
    back to its own. FileExistsError if the name is taken."""
    _share_netns_dir()
    path = NETNS_DIR / name
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare")
        try:
            bound = _libc.mount(b"/proc/thread-self/ns/net", bytes(path), b"none", MS_BIND, None)
            _check(bound, f"bind {path}")
        finally:
            _setns(own)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    finally:
        os.close(own)


def socket_in(
    namespace: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0
) -> socket.socket:
    """A socket that lives in `namespace` (the calling thread returns to its own)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(NETNS_DIR / namespace, os.O_RDONLY)
        try:
            _setns(target)
            try:
                return socket.socket(family, kind, proto)
            finally:
                _setns(own)
        finally:
            os.close(target)
    finally:
        os.close(own)
