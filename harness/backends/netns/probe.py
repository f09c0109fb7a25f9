"""The readiness probe of the design's RR Deployment (`tcpSocket: port: 179`), in a namespace.

The kubelet probes a pod by opening a TCP connection to the port and closing it. Here the socket
is created inside the pod's namespace (a thread may enter another network namespace on its own,
setns(2)) and connects to the loopback: the pod's own listening socket, no traffic leaves it.
"""

from __future__ import annotations

from harness.runtime.netns_socket import socket_in

__all__ = ["socket_in", "tcp_accepting"]


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
