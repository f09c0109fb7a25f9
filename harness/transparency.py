"""What RFC 4456 §10 protects: a reflected path carries the attributes its originator sent.

"When a RR reflects a route, it MUST NOT modify the following path attributes: NEXT_HOP,
AS_PATH, LOCAL_PREF, and MED" (§10), and no other: the RR only adds ORIGINATOR_ID and prepends
to CLUSTER_LIST (§8, judged by the checks of loop prevention). The attributes are compared in a
form where only meaning counts: the members of an AS_SET and of community lists are sets
(RFC 4271 §5.1.2, RFC 1997, RFC 8092).

What the originator sent is read where it was received: the RR's Adj-RIB-In from that client
(its table's path from the client's address; the RRs of the profiles apply no inbound policy).
For the crafted client the harness knows the sent attributes exactly (`comparable(Attributes)`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.backends.base import Lab, routes
from harness.errors import PreconditionFailed
from harness.model.base import Family
from harness.model.topology import Node
from harness.observe.route import Route

if TYPE_CHECKING:  # scapy's codec: imported where UPDATEs are made (issue 18)
    from harness.bgp.attributes import Attributes

Unknown = list[tuple[int, int, str]]


def comparable(path: Route | Attributes, unknown: Unknown | None = None) -> dict[str, Any]:
    """The §10 attributes of a path (or of what was sent), each field comparable by `==`.
    `unknown`: the unrecognised optional attributes in the form the comparison wants (the
    observers differ in what they show), or None to leave them out."""
    if not isinstance(path, Route):  # what was sent (Attributes)
        segments = [(kind, tuple(asns)) for kind, asns in path.segments()]
    else:
        segments = list(path.as_path_segments)
    fields: dict[str, Any] = {
        "origin": path.origin,
        "as_path": [(k, tuple(sorted(a)) if "set" in str(k) else a) for k, a in segments],
        "next_hop": path.next_hop,
        "med": path.med,
        "local_pref": path.local_pref,
        "atomic_aggregate": path.atomic_aggregate,
        "aggregator": path.aggregator,
        "communities": sorted(path.communities),
        "large_communities": sorted(path.large_communities),
        "ext_communities": sorted(path.ext_communities),
    }
    if unknown is not None:
        fields["unknown"] = sorted(unknown)
    return fields


def differences(got: dict[str, Any], sent: dict[str, Any]) -> list[str]:
    """`FIELD got, sent` for every field of `sent` that `got` does not carry unchanged."""
    return [f"{f} {got[f]!r}, sent {sent[f]!r}" for f in sent if got[f] != sent[f]]


def med_added(problem: str) -> bool:
    """A `differences` line of a MED the receiver holds where none was sent (the form of
    deviation `med-zero-added`, harness/deviations.py)."""
    return problem.endswith("med 0, sent None")


def received_from(lab: Lab, rr: Node, client_address: str, family: Family) -> dict[str, Route]:
    """The RR's Adj-RIB-In from the client at `client_address`: key -> the path it received."""
    return {path.key: path for path in routes(lab, rr, family) if path.peer == client_address}


@dataclass
class Transparency:
    """The §10 comparison of what an originator sent with what the receivers hold."""

    problems: list[str]  # one line per attribute a receiver does not hold as sent
    sent_without_med: bool  # an RR received a path without MED: deviation med-zero-added can show


def transparency(
    lab: Lab,
    tables: dict[str, Any],
    originator: Node,
    keys: Iterable[str],
    family: Family,
) -> Transparency:
    """RFC 4456 §10 for the routes `keys` that `originator` (a client) sent to every RR: every
    path a receiver holds via an RR carries the attributes that RR received from the
    originator. A route an RR does not hold from the originator leaves nothing to compare:
    the witness is missing (a precondition, not a verdict)."""
    keys = sorted(keys)
    origin_address = lab.plan.cluster_ip(originator)
    problems, without_med = [], False
    for rr in lab.plan.route_reflectors:
        address = lab.plan.cluster_ip(rr)
        sent = received_from(lab, rr, origin_address, family)
        absent = [k for k in keys if k not in sent]
        if absent:
            raise PreconditionFailed(
                f"{rr.name} holds no path from {originator.name} ({origin_address}) for "
                f"{', '.join(absent)}: what {originator.name} sent cannot be read"
            )
        without_med |= any(sent[k].med is None for k in keys)
        for node, table in tables.items():
            for key in keys:
                want = comparable(sent[key])
                for got in table.paths(key):
                    if got.peer == address:
                        problems += [
                            f"at {node} via {rr.name}: {key}: {d}"
                            for d in differences(comparable(got), want)
                        ]
    return Transparency(problems, without_med)
