"""SUT profiles: the default reproduces the design; broken profiles are input errors."""

from __future__ import annotations

import re

import jinja2
import pytest

from harness.errors import InputError
from harness.inputs import load_plan
from harness.model.loading import load_sut, load_topology
from harness.model.plan import LabPlan
from harness.mutation.catalogue import CATALOGUE, PROFILES, mutation
from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY


@pytest.fixture
def plan():
    return LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(DEFAULT_SUT))


def test_default_values_are_the_design_s(plan):
    v = plan.sut.values
    assert (v.asn, str(v.cluster_id), str(v.pod_cidr), v.replicas) == (
        64514,
        "1.1.1.1",
        "10.244.0.0/16",
        2,
    )
    assert v.timers.connect_retry == 2


def test_route_reflector_config_is_the_design_s(plan):
    text = plan.render_route_reflector(plan.route_reflectors[0])
    for line in (
        "router bgp 64514",
        " bgp router-id 1.1.1.1",
        " bgp cluster-id 1.1.1.1",
        " no bgp default ipv4-unicast",
        " neighbor CLIENTS peer-group",
        " neighbor CLIENTS remote-as 64514",
        " bgp listen range 10.244.0.0/16 peer-group CLIENTS",
        "  neighbor CLIENTS activate",
        "  neighbor CLIENTS route-reflector-client",
    ):
        assert line in text.splitlines(), line


def test_router_peers_with_every_rr_and_allowas_in_is_ebgp_only(plan):
    router = plan.topology.node("router-1")
    text = plan.render_router(router, ["10.244.0.10", "10.244.0.11"])
    lines = text.splitlines()
    assert " neighbor 10.244.0.10 remote-as 64514" in lines
    assert " neighbor 10.244.0.11 remote-as 64514" in lines
    assert " neighbor 192.168.11.2 remote-as 64512" in lines
    assert "  neighbor 192.168.11.2 allowas-in" in lines
    assert not [line for line in lines if "allowas-in" in line and "10.244.0." in line]
    assert " neighbor 10.244.0.10 timers connect 2" in lines


def test_router_follows_the_rr_ips_it_is_given(plan):
    router = plan.topology.node("router-3")
    text = plan.render_router(router, ["10.244.0.77"])
    assert " ! rr@10.244.0.77" in text.splitlines()
    assert "10.244.0.10" not in text


def test_undefined_template_variable_names_the_template(sut_copy):
    path = sut_copy / "router.conf.j2"
    path.write_text(path.read_text() + "{{ router.colour }}\n")
    sut = load_sut(sut_copy)
    plan = LabPlan(load_topology(DEFAULT_TOPOLOGY), sut)
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}: .*colour"):
        plan.render_router(plan.routers[0], [])


def test_template_syntax_error_names_file_and_line(sut_copy):
    path = sut_copy / "route-reflector.conf.j2"
    path.write_text("line one\n{% if %}\n")
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}:2: "):
        load_sut(sut_copy)


def test_missing_template(sut_copy):
    (sut_copy / "router.conf.j2").unlink()
    with pytest.raises(InputError, match=r"router\.conf\.j2: missing"):
        load_sut(sut_copy)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("replicas: 2", "replicas: 0", "replicas: Input should be greater than or equal to 1"),
        ("cluster_id: 1.1.1.1", "cluster_id: one", "cluster_id: Input is not a valid IPv4"),
        ("hold: 9", "hold: 1", "timers.hold: Input should be greater than or equal to 3"),
        ("asn: 64514", "asn: 0", "asn: Input should be greater than or equal to 1"),
    ],
)
def test_bad_sut_values_are_named(sut_copy, old, new, message):
    path = sut_copy / "sut.yaml"
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}: ") as err:
        load_sut(sut_copy)
    assert message in str(err.value)


def test_more_replicas_than_rr_slots(sut_copy):
    path = sut_copy / "sut.yaml"
    path.write_text(path.read_text().replace("replicas: 2", "replicas: 3"))
    with pytest.raises(InputError, match=r"replicas: 3 but .* has only 2 route-reflector node"):
        LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))


def test_asn_mismatch_between_sut_and_topology(sut_copy):
    path = sut_copy / "sut.yaml"
    path.write_text(path.read_text().replace("asn: 64514", "asn: 64999"))
    with pytest.raises(InputError, match=r"nodes\[0\].asn: 64514 differs from the SUT's asn 64999"):
        LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))


def test_pods_outside_the_pod_cidr(sut_copy):
    path = sut_copy / "sut.yaml"
    path.write_text(path.read_text().replace("10.244.0.0/16", "10.96.0.0/16"))
    with pytest.raises(InputError, match=r"pod address 10.244.0.10 is outside .* 10.96.0.0/16"):
        LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))


def test_replicas_choose_the_rr_slots(sut_copy):
    path = sut_copy / "sut.yaml"
    path.write_text(path.read_text().replace("replicas: 2", "replicas: 1"))
    plan = LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))
    assert [n.name for n in plan.route_reflectors] == ["rr-0"]
    assert "rr-1" not in [n.name for n in plan.lab_nodes]
    assert [s.peer_name for s in plan.peer_sessions(plan.topology.node("observer"))] == ["rr-0"]


@pytest.mark.parametrize("m", CATALOGUE, ids=[m.name for m in CATALOGUE])
def test_every_mutation_applies_and_still_renders(tmp_path, m):
    """Each variant edits the default profile and still renders configs FRR accepts: the
    breakage is semantic, which only the suites can catch."""
    profile, topology = PROFILES[m.profile]
    target = m.apply(profile, tmp_path / m.name)
    for edit in m.edits:
        assert (target / edit.file).read_text() != (profile / edit.file).read_text()
    load_plan(topology, target)


def test_mutation_names_are_unique():
    names = [m.name for m in CATALOGUE]
    assert len(names) == len(set(names))


def test_a_mutation_that_no_longer_applies_says_so(sut_copy, tmp_path):
    m = mutation("rr-without-route-reflector-client")
    path = sut_copy / m.edits[0].file
    path.write_text(path.read_text().replace(m.edits[0].old, ""))
    with pytest.raises(InputError, match="does not contain"):
        m.apply(sut_copy, tmp_path / "again")


def test_compiled_templates_are_kept_and_an_edited_one_compiled_again(
    sut_copy, tmp_path, monkeypatch
):
    """Issue 18: the SUT's templates are compiled once, not on every run's start; Jinja2
    checks each kept one against its source."""
    from harness.model import template_cache

    monkeypatch.setattr(template_cache, "CACHE_DIR", tmp_path / "cache")
    plan = LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))
    plan.render_router(plan.routers[0], [])
    kept = sorted((tmp_path / "cache" / "templates").iterdir())
    assert len(kept) == 2  # the RR's and the router's
    assert oct((tmp_path / "cache" / "templates").stat().st_mode & 0o777) == "0o700"
    path = sut_copy / "router.conf.j2"
    path.write_text(path.read_text() + "! edited after it was kept\n")
    plan = LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))
    assert "! edited after it was kept" in plan.render_router(plan.routers[0], [])


def test_a_template_cache_that_cannot_be_made_leaves_templates_compiled_each_time(
    sut_copy, tmp_path, monkeypatch
):
    from harness.model import template_cache

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(template_cache, "CACHE_DIR", blocker)  # no folder can be made in it
    assert template_cache.template_cache() is None
    plan = LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))
    assert "router bgp 64514" in plan.render_router(plan.routers[0], [])


def test_a_template_cache_keeps_its_newest_entries_and_compiles_a_bad_one_again(
    tmp_path, monkeypatch
):
    from harness.model import template_cache

    monkeypatch.setattr(template_cache, "KEPT", 2)
    cache = template_cache.TemplateCache(str(tmp_path))
    sources = {f"t{i}": f"{{{{ x }}}} {i}" for i in range(3)}
    env = jinja2.Environment(loader=jinja2.DictLoader(sources), bytecode_cache=cache)
    for name in sources:
        env.get_template(name)
    kept = list(tmp_path.glob("__jinja2_*.cache"))
    assert len(kept) == 2
    for path in kept:
        path.write_bytes(b"not a cache entry")
    env = jinja2.Environment(loader=jinja2.DictLoader(sources), bytecode_cache=cache)
    assert [env.get_template(n).render(x="v") for n in sources] == ["v 0", "v 1", "v 2"]


def test_a_template_cache_folder_others_may_write_is_not_used(tmp_path, monkeypatch):
    from harness.model import template_cache

    monkeypatch.setattr(template_cache, "CACHE_DIR", tmp_path)
    (tmp_path / "templates").mkdir(mode=0o777)
    (tmp_path / "templates").chmod(0o777)
    assert template_cache.template_cache() is None
    (tmp_path / "templates").chmod(0o700)
    assert template_cache.template_cache() is not None


def test_a_template_cache_that_cannot_be_written_is_only_not_kept(tmp_path):
    from harness.model.template_cache import TemplateCache

    folder = tmp_path / "cache"
    folder.mkdir()
    cache = TemplateCache(str(folder))
    folder.rmdir()  # gone under it (a cleaned cache): keeping fails, compiling does not
    env = jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ x }}"}), bytecode_cache=cache)
    assert env.get_template("t").render(x=1) == "1"
