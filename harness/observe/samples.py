"""One look at one FRR instance during a fault: the `Sample` the failover sampler collects.

A sample holds, for one client, which peers give it a path for each route (or, in counts
mode, how many routes each peer gives), which paths are stale (RFC 4724), and its sessions.
`Access` is how a backend lets the harness take samples of its pods' FRR.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.errors import HarnessError
from harness.observe import frr

EVPN_TABLE = "show bgp l2vpn evpn route json"
IPV4_TABLE = "show bgp ipv4 unicast json"
EVPN_SUMMARY = "show bgp l2vpn evpn summary json"
MODES = ("tables", "counts")  # every route of every table, or per-peer route counts only
# The sample process's command, run here (a backend may run it elsewhere: `Access.channel`).
LOCAL = (sys.executable, "-m", "harness.failover.sample_process")


class JsonVty(Protocol):
    """A vty connection answering `show ... json` commands (harness.daemons.vty.VtyClient)."""

    def json(self, command: str) -> Any: ...


class Named(Protocol):
    """A pod, as far as sampling cares."""

    name: str


@dataclass(frozen=True)
class Sample:
    """One look at one client: which peers give it a path for each route, which of those paths
    are stale (RFC 4724), and the state of each of its sessions. `error` when it did not answer."""

    at: float  # time.monotonic() when the answer was complete
    client: str
    paths: Mapping[str, frozenset[str]]  # route key -> peer addresses
    stale: frozenset[str]
    sessions: Mapping[str, str]
    error: str | None = None
    asked_at: float = 0.0  # when the first query was sent (`at - asked_at`: the daemon's delay)
    received: Mapping[str, int] = field(default_factory=dict)  # counts mode: peer -> routes


def read_tables(evpn: Mapping[str, Any], ipv4: Mapping[str, Any]) -> tuple[dict, frozenset]:
    """Route key -> peers with a path, and the keys with a stale path, from FRR's listings
    (`show bgp l2vpn evpn route json`, `show bgp ipv4 unicast json`). Local routes are left out:
    a client's own routes are never at risk in an RR failover."""
    paths: dict[str, set[str]] = {}
    stale: set[str] = set()

    def add(key: str, entries: Any) -> None:
        for path in _flatten(entries):
            peer = path.get("peerId")
            if peer in (None, "(unspec)", "0.0.0.0", "::"):
                continue
            paths.setdefault(key, set()).add(str(peer))
            if path.get("stale"):
                stale.add(key)

    for rd, table in evpn.items():
        if isinstance(table, dict):
            for prefix, entry in table.items():
                if isinstance(entry, dict) and "paths" in entry:
                    add(f"evpn {prefix} rd {rd}", entry["paths"])
    for prefix, entries in (ipv4.get("routes") or {}).items():
        add(f"ipv4 {prefix}", entries)
    return {k: frozenset(v) for k, v in paths.items()}, frozenset(stale)


def _flatten(entries: Any) -> Iterator[dict[str, Any]]:
    for item in entries or []:
        if isinstance(item, list):
            yield from (p for p in item if isinstance(p, dict))
        elif isinstance(item, dict):
            yield item


def take_sample(vty: JsonVty, client: str) -> Sample:
    """One sample of one FRR instance (a failed query is a sample with `error`)."""
    asked = time.monotonic()
    try:
        evpn, ipv4 = vty.json(EVPN_TABLE), vty.json(IPV4_TABLE)
        sessions = frr.session_states(vty.json(frr.SUMMARY))
    except (HarnessError, OSError) as exc:
        return Sample(time.monotonic(), client, {}, frozenset(), {}, str(exc), asked)
    paths, stale = read_tables(evpn, ipv4)
    return Sample(time.monotonic(), client, paths, stale, sessions, None, asked)


def take_counts(vty: JsonVty, client: str) -> Sample:
    """One sample of the EVPN routes received from each peer, and the sessions' states: the
    same cost at any table size (the bench's failover at 100k routes). Routes are not named."""
    asked = time.monotonic()
    try:
        peers = (vty.json(EVPN_SUMMARY).get("peers") or {}).items()
    except (HarnessError, OSError) as exc:
        return Sample(time.monotonic(), client, {}, frozenset(), {}, str(exc), asked)
    sessions = {ip: str(p.get("state", "")) for ip, p in peers}
    received = {ip: int(p.get("pfxRcd") or 0) for ip, p in peers}
    return Sample(time.monotonic(), client, {}, frozenset(), sessions, None, asked, received)


@dataclass(frozen=True)
class Access:
    """How a backend lets the harness sample its pods' FRR: where each pod's bgpd vty socket
    is (as the sample process sees it), which command runs the sample process that can reach
    a pod (`channel`: here for netns; inside the pod for kind), and one sample taken now."""

    sockets: Callable[[Iterable[Named]], dict[str, Path]]
    take: Callable[[str], Sample]
    channel: Callable[[str], tuple[str, ...]] = lambda _client: LOCAL
