"""The one way a run's inputs are loaded: topology + SUT profile -> a checked `LabPlan`.

Everything that can be wrong with the inputs is found here, before a namespace exists: YAML and
model errors, topology/SUT mismatches, templates that do not render, and rendered lines FRR
itself rejects (another RR implementation's config: what its driver says, e.g. gobgpd's own
check). Each becomes one `InputError` line naming the file (exit status 2).
"""

from __future__ import annotations

from pathlib import Path

from harness.daemons.frr import FRR_DIR
from harness.daemons.frr_check import rejected_lines
from harness.drivers.route_server import driver_for
from harness.errors import InputError
from harness.model.loading import load_sut, load_topology
from harness.model.plan import LabPlan
from harness.model.topology import Role


def load_plan(topology: Path, sut: Path, *, check_with_frr: bool = True) -> LabPlan:
    plan = LabPlan(load_topology(Path(topology)), load_sut(Path(sut)), source=Path(topology))
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
    if check_with_frr and (FRR_DIR / "bgpd").is_file():
        for name, config in configs.items():
            router = plan.topology.node(name).role is Role.ROUTER
            if not router and driver.name != "frr":
                continue  # checked by its own implementation, above
            daemons = ("zebra", "bgpd") if router else ("bgpd",)
            bad = rejected_lines(config, daemons)
            if bad:
                line, text = bad[0]
                template = plan.sut.directory / (
                    templates.router if router else templates.route_reflector
                )
                raise InputError(
                    f"{template}: FRR ({'/'.join(daemons)}) rejects line {line} of the config "
                    f"rendered for {name}: {text.strip()!r}"
                    + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
                )
    return plan
