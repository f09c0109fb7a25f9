"""The sessions the design implies are all Established.

Design ("Connection Patterns", "Controller Changes"): every router pod has an iBGP session with
every ready RR pod, the RR accepting it through `bgp listen range <podCIDR>`; every router pod
has its eBGP sessions with the external routers (ToR, cloud router).
"""

from __future__ import annotations

from harness.backends.base import unready_sessions
from harness.errors import WaitTimeout
from harness.observe.wait import wait_until


def test_every_expected_session_is_established(lab, convergence_timeout, record_property):
    """Every router ↔ RR session, every eBGP session, every harness peer's session is up."""
    record_property("down_at_start", sum(len(v) for v in lab.unready.values()))
    try:
        wait_until(
            lambda: unready_sessions(lab),
            lambda missing: not missing,
            timeout=convergence_timeout if lab.unready else 1.0,
            what="every expected BGP session to be Established",
            describe=lambda missing: missing,
        )
    except WaitTimeout as exc:
        lines = [
            f"{node}: session with {peer} is {state}"
            for node, peers in dict(exc.last).items()  # type: ignore[call-overload]
            for peer, state in peers.items()
        ]
        raise AssertionError("sessions not Established:\n  - " + "\n  - ".join(lines)) from None
