"""What a fault did, in milliseconds from the fault, computed from the samples.

Each measure is the first moment a condition held at every client, found by replaying the
samples in time order with each client's newest sample standing for it; its resolution is the
largest gap between two samples of one client, reported with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass

from harness.observe.samples import Sample

ESTABLISHED = "Established"
Snapshot = Mapping[str, Sample]  # client -> its newest sample


@dataclass(frozen=True)
class Loss:
    """A route a client did not hold in one sample."""

    client: str
    route: str
    at_ms: float

    def __str__(self) -> str:
        return f"{self.route} missing at {self.client} {self.at_ms:.0f} ms after the fault"


@dataclass
class Measures:
    detection_ms: float | None = None
    loss_window_ms: float = 0.0  # from the samples
    wire_loss_window_ms: float = 0.0  # from the wire (harness.failover.wire), µs-derived
    replacement_ready_ms: float | None = None
    established_ms: float | None = None
    full_redundancy_ms: float | None = None
    harness_done_ms: float | None = None  # the harness's last emulation step before it ended
    sut_full_redundancy_ms: float | None = None  # full redundancy after that: the SUT's share
    resolution_ms: float = 0.0
    sampler_lateness_ms: float = 0.0
    samples: int = 0

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def ms(at: float, t0: float) -> float:
    return (at - t0) * 1000.0


def sessions_down(addresses: Iterable[str]) -> Callable[[Snapshot], bool]:
    """True of a snapshot where no client has a session Established with any of `addresses`
    (the fault detected everywhere)."""
    wanted = set(addresses)
    return lambda latest: all(
        s.sessions.get(ip) != ESTABLISHED for s in latest.values() for ip in wanted
    )


def sessions_up(addresses: Iterable[str]) -> Callable[[Snapshot], bool]:
    """True of a snapshot where every client has a session Established with each address."""
    wanted = set(addresses)
    return lambda latest: all(
        s.sessions.get(ip) == ESTABLISHED for s in latest.values() for ip in wanted
    )


def replay(samples: Iterable[Sample]) -> Iterator[tuple[float, Snapshot]]:
    """(time, newest sample of every client so far) after each sample, in time order."""
    latest: dict[str, Sample] = {}
    for sample in sorted(samples, key=lambda s: s.at):
        latest[sample.client] = sample
        yield sample.at, latest


def first_time(
    samples: Iterable[Sample],
    t0: float,
    clients: Iterable[str],
    holds: Callable[[Snapshot], bool],
) -> float | None:
    """Milliseconds from t0 to the first sample after which `holds` is true of every client."""
    wanted = set(clients)
    for at, latest in replay(samples):
        if at >= t0 and wanted <= set(latest) and holds({c: latest[c] for c in wanted}):
            return ms(at, t0)
    return None


def restored_at(
    samples: Iterable[Sample],
    t0: float,
    clients: Iterable[str],
    holds: Callable[[Snapshot], bool],
) -> float | None:
    """Milliseconds from t0 to the moment `holds` became true of every client for good: the
    first sample after the last one (after t0) where it did not hold. None if it never did."""
    wanted = set(clients)
    since: float | None = None
    for at, latest in replay(samples):
        if at < t0 or not wanted <= set(latest):
            continue
        holding = holds({c: latest[c] for c in wanted})
        since = (since or at) if holding else None
    return None if since is None else ms(since, t0)


def losses(
    samples: Iterable[Sample], t0: float, expected: Mapping[str, frozenset[str]]
) -> tuple[float, list[Loss]]:
    """The loss window (ms during which some client missed some expected route: the union over
    clients of the spans from a sample missing a route to that client's next sample) and every
    route found missing, once per client and route, at its first sample."""
    spans: list[tuple[float, float]] = []
    found: dict[tuple[str, str], Loss] = {}
    by_client: dict[str, list[Sample]] = {}
    for s in samples:
        if s.at >= t0 and s.client in expected:
            by_client.setdefault(s.client, []).append(s)
    for client, series in by_client.items():
        series.sort(key=lambda s: s.at)
        for here, after in zip(series, [*series[1:], None], strict=True):
            if here.error is not None:
                continue
            missing = expected[client] - set(here.paths)
            if not missing:
                continue
            end = after.at if after is not None else here.at
            spans.append((here.at, end))
            for route in sorted(missing):
                found.setdefault((client, route), Loss(client, route, ms(here.at, t0)))
    return _union_ms(spans), sorted(found.values(), key=lambda loss: loss.at_ms)


def _union_ms(spans: list[tuple[float, float]]) -> float:
    total, reach = 0.0, -math.inf
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total * 1000.0


def gaps_ms(samples: Iterable[Sample], t0: float, interval: float) -> tuple[float, float]:
    """(resolution, lateness) after t0, in ms. Resolution: the largest gap between two answers
    of one client, which includes the time a busy daemon took to answer. Lateness: the largest
    delay the harness itself added before asking again (beyond the interval and the answer)."""
    last: dict[str, Sample] = {}
    gap = late = 0.0
    for s in sorted(samples, key=lambda s: s.at):
        before = last.get(s.client)
        last[s.client] = s
        if before is None or before.at < t0:
            continue
        gap = max(gap, s.at - before.at)
        late = max(late, s.asked_at - max(before.at, before.asked_at + interval))
    return gap * 1000.0, late * 1000.0


def percentiles(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """p50, p95 and max by nearest rank (no interpolation: every figure was measured)."""
    got = sorted(v for v in values if v is not None)
    if not got:
        return {"n": 0, "p50": None, "p95": None, "max": None}

    def rank(p: float) -> float:
        return round(got[max(0, math.ceil(p / 100 * len(got)) - 1)], 1)

    return {"n": len(got), "p50": rank(50), "p95": rank(95), "max": round(got[-1], 1)}
