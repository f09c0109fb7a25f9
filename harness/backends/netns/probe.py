"""The readiness probe of the design's RR Deployment (`tcpSocket: port: 179`), in a namespace.

The kubelet probes a pod by opening a TCP connection to the port and closing it. Here the socket
is created inside the pod's namespace (a thread may enter another network namespace on its own,
setns(2)) and connects to the loopback: the pod's own listening socket, no traffic leaves it.
"""

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


def tcp_accepting(namespace: str, port: int, timeout: float) -> bool:
    """True when something in `namespace` accepts a TCP connection on 127.0.0.1:`port`."""
    try:
        sock = socket_in(namespace)
    except OSError:
        return False  # the namespace is gone: nothing accepts
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            return False
        return True
