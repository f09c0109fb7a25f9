"""`rr-harness bench`: its parts on their own, and a tiny run of every scenario so the code path
stays alive in CI. No timing is asserted here: the figures are the bench's output, not a test."""

from __future__ import annotations

import itertools
import json

from conftest import needs_root, rr_harness

from harness.backends.netns.capture import Flow, Segment
from harness.backends.netns.cleanup import find_leftovers
from harness.bench.burst import encode, evpn_nlri, routes
from harness.bench.figures import Results
from harness.bench.memory import per_route
from harness.bench.wire import routes_complete_at
from harness.bgp.attributes import Attributes
from harness.bgp.framing import split_messages

ATTRS = Attributes(next_hop="10.244.0.20", local_pref=100, ext_communities=("target:64514:100",))


def messages(data: bytes) -> list[bytes]:
    found, rest = split_messages(data)
    assert rest == b""
    return [m for _, m in found]


def test_a_burst_is_packed_into_few_full_updates_and_read_back_route_by_route():
    burst = routes(1000, rd="10.244.0.20:100", vni=100)
    announce = messages(encode(burst, ATTRS))
    assert all(len(m) <= 4096 for m in announce)
    assert len(announce) <= 1000 // 100  # many NLRI per UPDATE: the generator is not the limit
    keys = [key for m in announce for added, key in evpn_nlri(m) if added]
    assert len(set(keys)) == 1000
    withdrawn = [k for m in messages(encode(burst, ATTRS, withdraw=True)) for a, k in evpn_nlri(m)]
    assert set(withdrawn) == set(keys)


def test_memory_per_route_is_the_least_squares_line():
    slope, fixed = per_route([(0, 18_000_000), (10_000, 29_000_000), (100_000, 128_000_000)])
    assert round(slope) == 1100 and abs(fixed - 18_000_000) < 1


def test_a_session_is_rebuilt_from_its_segments_and_each_message_timed_by_its_last_byte():
    burst = routes(300, rd="10.244.0.20:100", vni=100)
    data = encode(burst, ATTRS)
    isn = 4_294_967_000  # sequence numbers wrap inside the stream
    cut = [0, 1000, 4200, 4200 + 1448, len(data)]
    segments = [Segment(0.0, isn, 0x02, b"")]  # SYN
    for i, (a, b) in enumerate(itertools.pairwise(cut)):
        segments.append(Segment(1.0 + i, (isn + 1 + a) & 0xFFFFFFFF, 0x10, data[a:b]))
    segments.append(Segment(9.0, (isn + 1 + 1000) & 0xFFFFFFFF, 0x10, data[1000:4200]))  # resent
    flow = Flow("10.244.1.100", "10.244.0.22", segments)
    timed = list(flow.messages())
    assert b"".join(m for _, m in timed) == data
    assert timed[0][0] == 2.0  # the first UPDATE's last byte came with the second segment
    assert routes_complete_at([flow], 300) == timed[-1][0]
    assert routes_complete_at([flow], 301) is None
    gap = Flow("x", "y", [segments[0], segments[1], segments[3]])  # a segment never seen
    assert [m for _, m in gap.messages()] == []  # no message is made up across the gap


def test_results_carry_every_figure_with_its_unit(tmp_path):
    results = Results()
    results.add("throughput", "throughput", 152323.4, "routes/s", routes=100000, clients=3)
    results.add("overhead", "lab up (median)", 2.5, "s", "target <= 2 s: MISSED")
    body = json.loads(results.write(tmp_path / "bench.json", {"cpus": 2}).read_text())
    assert body["figures"][0] == {
        "scenario": "throughput",
        "name": "throughput",
        "value": 152323.4,
        "unit": "routes/s",
        "params": {"routes": 100000, "clients": 3},
        "note": "",
    }
    assert "routes/s" in results.table() and "MISSED" in results.table()


def test_bad_bench_arguments_are_one_line_and_exit_2():
    for args, says in [
        (("bench", "nope"), "unknown scenario 'nope'"),
        (("bench", "--routes", "10,x"), "--routes: expected N[,N...]"),
        (("bench", "--routes", "0"), "sizes must be at least 1"),
        (("bench", "overhead", "--suites", "nope"), "--suites: unknown suite 'nope'"),
        (("bench", "yardstick"), "--topotests: the yardstick needs FRR's tests/topotests"),
        (("bench", "yardstick", "--topotests", "/nonexistent"), "no bgp_rr_ibgp/test_bgp_rr"),
        (("bench", "overhead", "--topotests", "/tmp"), "only for the yardstick scenario"),
    ]:
        done = rr_harness(*args)
        assert done.returncode == 2, done.stderr
        assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1


@needs_root
def test_every_scenario_runs_small_and_reports_figures_with_units(tmp_path, profile_frr):
    out = tmp_path / "bench.json"
    done = rr_harness(
        "bench",
        "--routes",
        "40,80",
        "--clients",
        "2",
        "--suites",
        "sessions",
        "--json",
        str(out),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    body = json.loads(out.read_text())
    assert (body["implementation"], body["frr_version"]) == ("frr", "10.3")  # the profile's
    assert body["frr_source"].startswith("trixie 10.3-")
    figures = body["figures"]
    scenarios = {f["scenario"] for f in figures}
    assert scenarios == {"throughput", "failover", "memory", "overhead"}
    assert all(f["unit"] for f in figures)
    named = {(f["scenario"], f["name"]) for f in figures}
    for wanted in [
        ("throughput", "throughput"),
        ("throughput", "withdraw-all"),
        ("failover", "full redundancy (median)"),
        ("failover", "replacement's UPDATEs complete, on the wire (median)"),
        ("memory", "per route (least squares)"),
        ("overhead", "share waiting for daemons"),
    ]:
        assert wanted in named
    assert "throughput" in done.stdout  # the table, on the terminal
    left = find_leftovers(include_live=True)
    assert left.empty, left.describe()
