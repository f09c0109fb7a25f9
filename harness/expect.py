"""Expectations about reflected routes, phrased as lists of problems a reader can act on.

Each function returns `[]` when the expectation holds, otherwise one line per problem naming
the route, the node where it was expected and the RR it should have come through.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import pytest

from harness.backends.base import Lab, routes
from harness.errors import PreconditionFailed, WaitTimeout
from harness.model.base import Family
from harness.model.topology import Node, Role
from harness.observe.route import Route, RouteTable
from harness.observe.wait import wait_until

Tables = Mapping[str, RouteTable]


@dataclass(frozen=True)
class Reflector:
    name: str
    address: str


def require_node(lab: Lab, name: str, why: str) -> Node:
    """The topology's node `name`, or skip the test: a user's topology may leave actors out,
    and a backend may not be able to stage one (kind: an address outside the pod CIDR)."""
    if name in lab.unrealised:
        pytest.skip(f"{name} cannot be staged on this backend: {lab.unrealised[name]}")
    try:
        return lab.plan.topology.node(name)
    except KeyError:
        pytest.skip(f"topology {lab.plan.topology.name} has no node {name!r} ({why})")


def reflectors(lab: Lab) -> list[Reflector]:
    return [Reflector(n.name, lab.plan.cluster_ip(n)) for n in lab.plan.route_reflectors]


def observers(lab: Lab) -> list[Node]:
    """ExaBGP peers that are EVPN clients of the route reflectors."""
    rr_names = {n.name for n in lab.plan.route_reflectors}
    return [
        p
        for p in lab.plan.peers
        if p.role is Role.EXABGP_PEER
        and Family.L2VPN_EVPN in p.families
        and rr_names & set(p.peers)
    ]


def evpn_clients(lab: Lab) -> list[Node]:
    """Every client that should receive reflected EVPN: router pods and observers."""
    return [*lab.plan.routers, *observers(lab)]


def without_rd(key: str) -> str:
    """`evpn type-2 rd 10.0.0.1:2 mac ...` -> `evpn type-2 mac ...` (RDs are auto-derived)."""
    words = key.split()
    if "rd" in words:
        i = words.index("rd")
        del words[i : i + 2]
    return " ".join(words)


def expected_originations(node: Node) -> set[str]:
    """What the topology says a router originates (RFC 7432 §7.2, §7.3), keys without RD."""
    if node.evpn is None:
        return set()
    out = {f"evpn type-3 vtep {node.evpn.vtep}"}
    for host in node.evpn.hosts:
        out.add(f"evpn type-2 mac {host.mac}")
        if host.ip is not None:
            out.add(f"evpn type-2 mac {host.mac} ip {host.ip}")
    return out


def snapshot(lab: Lab, nodes: Iterable[Node | str]) -> dict[str, RouteTable]:
    tables = {}
    for node in nodes:
        table = routes(lab, node, family=None)
        tables[table.node] = table
    return tables


def missing_reflections(
    tables: Tables, keys: Iterable[str], origin: str, via: list[Reflector]
) -> list[str]:
    """RFC 4456 §6: a client's route reaches every other client, through every RR."""
    problems = []
    for node, table in tables.items():
        for key in sorted(keys):
            peers = {r.peer for r in table.paths(key)}
            for rr in via:
                if rr.address not in peers:
                    problems.append(
                        f"missing at {node} via {rr.name} ({rr.address}): {key} "
                        f"(originated by {origin})"
                    )
    return problems


def leaked(tables: Tables, keys: Iterable[str], why: str) -> list[str]:
    """Paths that must not exist, each named with where it was found and why it must not."""
    return [
        f"{r.brief()} reached {node}, but {why}"
        for node, table in tables.items()
        for key in sorted(keys)
        for r in table.paths(key)
    ]


def attribute_problems(
    tables: Tables,
    originated: list[Route],
    via: list[Reflector],
    check: Callable[[Route, Route], list[str]],
) -> list[str]:
    """Apply `check(sent, received)` to every reflected path of every originated route."""
    addresses = {rr.address: rr.name for rr in via}
    problems = []
    for sent in originated:
        for node, table in tables.items():
            for got in table.paths(sent.key):
                if got.peer in addresses:
                    problems += [
                        f"at {node} via {addresses[got.peer]}: {sent.key}: {p}"
                        for p in check(sent, got)
                    ]
    return problems


def await_originated(
    lab: Lab, router: Node, timeout: float, expected: set[str] | None = None
) -> list[Route]:
    """The router's own EVPN paths for `expected` (keys without RD; by default what its VNI's
    hosts imply), once it originates them all. Other local paths are left out: a host another
    test has just removed may not be withdrawn yet, and must not become an expectation."""
    expected = expected_originations(router) if expected is None else expected

    def missing(table: RouteTable) -> set[str]:
        return expected - {without_rd(r.key) for r in table.local(Family.L2VPN_EVPN)}

    table = wait_until(
        lambda: routes(lab, router),
        lambda t: not missing(t),
        fail_fast=lab.check_alive,
        timeout=timeout,
        what=f"{router.name} to originate {sorted(expected)}",
        describe=lambda t: f"not yet originated: {sorted(missing(t))}; {t.summary()}",
    )
    return [r for r in table.local(Family.L2VPN_EVPN) if without_rd(r.key) in expected]


@dataclass
class TablePoll:
    """Where polling ended: the last tables, the problems left (none: it held), the time."""

    what: str
    tables: dict[str, RouteTable]
    problems: list[str]
    elapsed: float

    def check(self, *, precondition: bool = False) -> dict[str, RouteTable]:
        """The tables, or the rule broken (`ExpectationFailed`, a failure); for a
        `precondition` of the check, `PreconditionFailed` (an error: nothing was decided)."""
        if self.problems:
            text = (
                f"{self.what}: still failing after {self.elapsed:.1f} s:{_bulleted(self.problems)}"
            )
            raise PreconditionFailed(text) if precondition else ExpectationFailed(text)
        return self.tables


def poll_tables(
    lab: Lab,
    nodes: list[Node],
    problems: Callable[[Tables], list[str]],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
) -> TablePoll:
    """Poll the nodes' tables until `problems` is empty or the deadline passes; never raises
    for the deadline, so one wait can serve several checks (each judges `problems`)."""
    started = time.monotonic()
    try:
        tables = wait_until(
            lambda: snapshot(lab, nodes),
            lambda t: not problems(t),
            timeout=timeout,
            interval=interval,
            what=what,
            describe=lambda t: t,  # keep the tables themselves
            fail_fast=lab.check_alive,  # a dead daemon is reported as such, at once
        )
    except WaitTimeout as exc:
        tables = exc.last  # type: ignore[assignment]
    return TablePoll(what, tables, problems(tables), time.monotonic() - started)


def await_tables(
    lab: Lab,
    nodes: list[Node],
    problems: Callable[[Tables], list[str]],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    precondition: bool = False,
) -> dict[str, RouteTable]:
    """Poll the nodes' tables until `problems` is empty; on timeout list the last problems, as
    the check's failure, or as an error when this is only a `precondition` of the check."""
    polled = poll_tables(lab, nodes, problems, timeout=timeout, what=what, interval=interval)
    return polled.check(precondition=precondition)


@contextlib.contextmanager
def restoring(undo: Callable[[], object], undone: Callable[[], object]) -> Iterator[None]:
    """Run the block, then `undo` the change it made to the shared lab and wait (`undone`)
    until the change is gone: the next test starts from the lab as it was. When the block
    failed, its error is the one reported, never the wait's."""
    try:
        yield
    except BaseException:
        undo()
        with contextlib.suppress(Exception):
            undone()
        raise
    undo()
    undone()


def _bulleted(lines: list[str], limit: int = 25) -> str:
    more = [f"... and {len(lines) - limit} more"] if len(lines) > limit else []
    return "".join(f"\n  - {line}" for line in [*lines[:limit], *more])


class ExpectationFailed(AssertionError):
    """A conformance expectation did not hold; the message lists every problem seen."""
