"""Reading FRR's reason for refusing a route (`DENIED due to: ...`), from real log lines."""

from __future__ import annotations

from harness.inject import wrong_denial

SAME_CLUSTER = (
    "2026/11/22 12:33:43 BGP: [RZMGQ-A03CG] 10.244.0.31(Unknown) rcvd UPDATE about "
    "10.66.15.0/24 IPv4 unicast -- DENIED due to: reflected from the same cluster;"
)
OWN_AS = (
    "2026/11/22 12:33:42 BGP: [RZMGQ-A03CG] 10.244.0.60(Unknown) rcvd UPDATE about "
    "10.66.5.0/24 IPv4 unicast -- DENIED due to: as-path contains our own AS;"
)


def test_the_expected_reason_is_no_problem():
    assert wrong_denial([SAME_CLUSTER], "reflected from the same cluster") == []


def test_a_refusal_for_another_rule_is_a_problem_quoting_frr():
    (problem,) = wrong_denial([OWN_AS], "reflected from the same cluster")
    assert "not because 'reflected from the same cluster'" in problem
    assert "as-path contains our own AS" in problem


def test_no_log_line_is_no_problem_absence_is_proven_by_the_sentinel():
    assert wrong_denial([], "originator is us") == []
