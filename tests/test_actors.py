"""A lab shaped by what runs (issue 18): each suite's actors, the nodes a run builds, and the
start-up breakdown's arithmetic. No lab here: plans and suite markers only."""

from __future__ import annotations

import importlib
import sys

import pytest

from harness.model.actors import CORE, EVERY, Actor, actor_of, left_out, needed, shaped
from harness.model.loading import load_sut, load_topology
from harness.model.plan import LabPlan
from harness.paths import FIXTURES_DIR, SUITES_DIR
from harness.runtime import startup
from harness.suite_names import known_suites


def _plan(topology: str = "cloud-hybrid", sut: str = "standalone-rr") -> LabPlan:
    return LabPlan(
        load_topology(FIXTURES_DIR / "topologies" / f"{topology}.yaml"),
        load_sut(FIXTURES_DIR / "sut" / sut),
    )


def test_every_node_of_the_hybrid_topology_is_the_actor_its_sessions_make_it():
    plan = _plan()
    got = {n.name: actor_of(plan, n) for n in plan.topology.nodes}
    assert got == {
        "rr-0": Actor.ROUTE_REFLECTOR, "rr-1": Actor.ROUTE_REFLECTOR,
        "router-1": Actor.ROUTER, "router-2": Actor.ROUTER, "router-3": Actor.ROUTER,
        "tor": Actor.TOR, "cloud": Actor.CLOUD_ROUTER, "observer": Actor.OBSERVER,
        "client": Actor.CLIENT, "nonclient-1": Actor.NON_CLIENT, "nonclient-2": Actor.NON_CLIENT,
        "outsider": Actor.WOULD_BE_CLIENT, "wrong-asn": Actor.WOULD_BE_CLIENT,
        "rr-stub": Actor.STAND_IN_RR,
    }  # fmt: skip


def test_the_reflection_lab_has_the_pods_and_the_observer_and_configs_to_match():
    plan = _plan()
    lab = shaped(plan, needed([[Actor.OBSERVER]]))
    assert [n.name for n in lab.topology.nodes] == [
        "rr-0", "rr-1", "router-1", "router-2", "router-3", "observer"
    ]  # fmt: skip
    assert "tor" in left_out(plan, lab) and "rr-stub" in left_out(plan, lab)
    router = lab.topology.node("router-1")
    config = lab.render_router(router, lab.rr_ips(router))
    assert "192.168.11.2" not in config  # no ToR neighbor for a ToR the lab does not have
    assert "10.244.0.60" not in config  # nor the stand-in RR
    rr = lab.route_reflectors[0]
    assert lab.non_clients(rr) == []


def test_a_check_that_declares_nothing_gets_the_whole_topology():
    plan = _plan()
    assert needed([[Actor.OBSERVER], None]) == EVERY
    assert needed([]) == CORE
    assert shaped(plan, EVERY) is plan


def test_a_meshrr_lab_is_built_whole():
    plan = _plan("meshrr", "meshrr")
    assert shaped(plan, CORE) is plan


def _declared(suite: str) -> list[Actor] | None:
    sys.path.insert(0, str(SUITES_DIR))
    try:
        module = importlib.import_module(f"test_{suite.replace('-', '_')}")
    finally:
        sys.path.remove(str(SUITES_DIR))
    marks = getattr(module, "pytestmark", [])
    marks = marks if isinstance(marks, list) else [marks]
    found = [a for m in marks if m.name == "actors" for a in m.args]
    return found or None


def test_every_suite_together_builds_every_node_of_the_hybrid_topology():
    plan = _plan()
    lab = shaped(
        plan, needed(_declared(s) for s in known_suites() if s not in ("failover", "meshrr"))
    )
    assert lab is plan  # the main job's run builds the whole topology


@pytest.mark.parametrize(
    ("suite", "absent"),
    [
        ("reflection", {"tor", "cloud", "client", "outsider", "wrong-asn", "rr-stub"}),
        ("sessions", {"observer", "client", "nonclient-1", "nonclient-2", "rr-stub"}),
    ],
)
def test_a_suite_alone_leaves_out_what_it_needs_no_actor_of(suite, absent):
    plan = _plan()
    lab = shaped(plan, needed([_declared(suite)]))
    assert absent <= set(left_out(plan, lab))
    if suite == "sessions":  # the would-be clients are what its check catches an RR accepting
        assert {"outsider", "wrong-asn", "tor", "cloud"} <= {n.name for n in lab.topology.nodes}


def test_the_start_up_breakdown_is_each_step_once_in_order(monkeypatch):
    monkeypatch.setattr(startup, "MARKS", {"process": 10.0, "session": 11.0, "collected": 11.5})
    timings = {"namespaces_s": 0.25, "daemons_s": 0.75, "established_s": 1.0}
    steps = startup.breakdown(timings, lab_started=11.6)
    assert steps == {
        "interpreter_imports": 1000, "collection": 500, "before_lab": 100,
        "namespaces": 250, "daemons": 500, "sessions": 250, "total": 2600,
    }  # fmt: skip
    assert startup.as_property(steps).startswith('{"interpreter_imports":1000,')


def test_this_process_knows_how_long_ago_it_started():
    age = startup.process_age()
    assert age is not None and 0 <= age < 24 * 3600


def test_while_the_run_starts_the_collector_rests_and_the_suites_bytecode_is_kept(monkeypatch):
    """Issue 18: no full collection walks the start-up's modules again and again; pytest may
    keep the suites' rewritten bytecode; afterwards both are as they were, the start's objects
    out of the collector's sight."""
    import gc

    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # PYTHONDONTWRITEBYTECODE=1
    try:
        startup.starting(keep_bytecode=True)
        assert not gc.isenabled() and sys.dont_write_bytecode is False
        startup.started()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert sys.dont_write_bytecode is True
    finally:
        gc.unfreeze()
        gc.enable()
