"""A socket made in another network namespace, from any thread (setns(2) moves the calling
thread only, and the socket stays in the namespace it was made in). Standard library only: the
crafted speakers' one process (`harness.daemons.speaker_process`) uses it too."""

from __future__ import annotations

import ctypes
import os
import socket
from pathlib import Path

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


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
