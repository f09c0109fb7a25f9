"""The one way a run's inputs are loaded: topology + SUT profile -> a checked `LabPlan`.

Everything that can be wrong with the inputs is found here, before a namespace exists: YAML and
model errors, topology/SUT mismatches, templates that do not render, and rendered lines FRR
itself rejects (another RR implementation's config: what its driver says, e.g. gobgpd's own
check). Each becomes one `InputError` line naming the file (exit status 2). The FRR the SUT
ships (`frr:`, or `--frr`) is resolved here too, its tree built on first use, and it is the FRR
that judges the rendered configs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.daemons.frr_check import rejected_lines
from harness.daemons.frr_runtime import HOST, FrrRuntime, runtime_for
from harness.drivers.route_server import driver_for
from harness.errors import InputError
from harness.model.loading import load_sut, load_topology
from harness.model.plan import LabPlan
from harness.model.sut import HOST_FRR
from harness.model.topology import Role


def load_plan(
    topology: Path,
    sut: Path,
    *,
    frr: str | None = None,
    check_with_frr: bool = True,
    runtime: FrrRuntime | None = None,
) -> LabPlan:
    """The checked plan. `frr` (`--frr`) overrides the profile's FRR; the configs are judged by
    `runtime`, by default the one the SUT ships (resolved, and built if need be, now)."""
    plan = LabPlan(
        load_topology(Path(topology)), load_sut(Path(sut), frr=frr), source=Path(topology)
    )
    driver = driver_for(plan)  # an implementation without a driver stops here
    configs = plan.render_all()
    templates = plan.sut.values.templates
    for name, config in configs.items():
        if plan.topology.node(name).role is Role.ROUTE_REFLECTOR:
            why = driver.rejects(config)  # FRR's: line by line, below
            if why:
                raise InputError(
                    f"{plan.sut.directory / templates.route_reflector}: {driver.name} rejects "
                    f"the config rendered for {name}: {why}"
                )
    if check_with_frr and runtime is None:
        runtime = runtime_for(plan.sut) if plan.sut.values.frr != HOST_FRR else HOST
    if runtime is HOST and not HOST.has("bgpd"):
        runtime = None  # no FRR here to judge them (a netns run says FRR is missing)
    if check_with_frr and runtime is not None:
        _judge_with_frr(plan, configs, driver.name, runtime)
    return plan


def _judge_with_frr(plan: LabPlan, configs: dict[str, str], driver: str, judge: FrrRuntime) -> None:
    """Every pod's rendered config as FRR judges it (the pods' configs side by side: each is
    its own dry run); the first rejected one, in the topology's order, is the error."""
    templates = plan.sut.values.templates
    checks: dict[str, tuple[str, ...]] = {}
    for name in configs:
        router = plan.topology.node(name).role is Role.ROUTER
        if router or driver == "frr":  # another implementation's RR: its own check, above
            # OpenPERouter's RR is a router pod: its config is for zebra and bgpd alike.
            pod_has_zebra = router or plan.sut.values.rr_is_router
            checks[name] = ("zebra", "bgpd") if pod_has_zebra else ("bgpd",)
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = {
            name: pool.submit(rejected_lines, configs[name], daemons, judge)
            for name, daemons in checks.items()
        }
    for name, daemons in checks.items():
        bad = verdicts[name].result()
        if bad:
            line, text = bad[0]
            router = plan.topology.node(name).role is Role.ROUTER
            template = plan.sut.directory / (
                templates.router if router else templates.route_reflector
            )
            raise InputError(
                f"{template}: FRR {judge.version} ({'/'.join(daemons)}) rejects line "
                f"{line} of the config "
                f"rendered for {name}: {text.strip()!r}"
                + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
            )
