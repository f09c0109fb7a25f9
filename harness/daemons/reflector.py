"""The harness's own route reflector in an RR pod (sut.yaml `implementation: harness-rr`): its
configuration, checked, and its process (`harness.daemons.reflector_process`) as the lab runs
it: started, stopped and killed by PID like every daemon of the run.

It exists for the mutation proof: a deliberately broken RR where FRR and GoBGP cannot be
configured into the broken behaviour (`faults`). Its configuration is YAML, rendered per pod from
the profile's template (`fixtures/sut/harness-rr/route-reflector.yaml.j2`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import Field, ValidationError

from harness.bgp.numbers import AFI_SAFI
from harness.daemons.pod_process import PodProcess
from harness.model.base import Asn, Family, Frozen
from harness.model.loading import describe_validation_error
from harness.observe.wait import START_POLL, wait_until
from harness.runtime.processes import ManagedProcess

START_TIMEOUT = 15.0
Fault = Literal["overwrite-originator-id", "reset-on-every-update-error"]  # reflector_process
RENDERED = Path("the rendered reflector config")  # how errors name it


class NonClient(Frozen):
    """A configured iBGP neighbor that is not a client (RFC 4456 §6)."""

    address: IPv4Address
    asn: Asn
    families: list[Family] = Field(min_length=1)


class ReflectorConfig(Frozen):
    """One RR pod's configuration."""

    address: IPv4Address = Field(description="the pod's address: where it listens (TCP 179)")
    asn: Asn
    router_id: IPv4Address
    cluster_id: IPv4Address
    listen_ranges: list[IPv4Network] = Field(
        min_length=1, description="clients are accepted from these (the pod CIDR)"
    )
    families: list[Family] = Field(min_length=1)
    hold_time: int = Field(ge=3, le=65535)
    non_clients: tuple[NonClient, ...] = ()
    faults: tuple[Fault, ...] = Field(
        (), description="the rules this reflector breaks on purpose (none: a correct RR)"
    )


def parse_config(text: str) -> ReflectorConfig:
    """The rendered configuration; ValueError naming the field when it is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML: {exc}") from None
    try:
        return ReflectorConfig.model_validate(data)
    except ValidationError as exc:
        raise ValueError(describe_validation_error(RENDERED, exc)) from None


@dataclass
class ReflectorInstance(PodProcess):
    """The reflector of one RR pod: its start and its log."""

    def start(self) -> Self:
        from harness.bgp.session import build_open  # scapy: only where an RR pod starts

        config = parse_config(self.config)
        self.directory.mkdir(parents=True, exist_ok=True)
        ready = self.directory / "listening"
        ready.unlink(missing_ok=True)
        families = [AFI_SAFI[f] for f in config.families]
        process_config = {
            "address": str(config.address),
            "asn": config.asn,
            "router_id": str(config.router_id),
            "cluster_id": str(config.cluster_id),
            "listen_ranges": [str(r) for r in config.listen_ranges],
            "families": families,
            "hold_time": config.hold_time,
            "non_clients": [
                {
                    "address": str(n.address),
                    "asn": n.asn,
                    "families": [AFI_SAFI[f] for f in n.families],
                }
                for n in config.non_clients
            ],
            "faults": list(config.faults),
            "open": build_open(
                config.asn, config.hold_time, str(config.router_id), config.families
            ).hex(),
        }
        (self.directory / "reflector.json").write_text(json.dumps(process_config, indent=1))
        proc = ManagedProcess(
            node=self.node,
            name="reflector",
            argv=[sys.executable, "-m", "harness.daemons.reflector_process", str(self.directory)],
            namespace=self.namespace,
            env=self.env,
            log=self.directory / "reflector.stderr",
            cwd=self.directory,
            component="reflector",
        )
        self.processes.append(proc)  # registered before start: teardown stops it either way
        proc.start()
        wait_until(
            ready.exists,
            timeout=START_TIMEOUT,
            interval=START_POLL,
            what=f"{self.node} reflector to listen on {config.address}:179",
            fail_fast=proc.check_alive,
        )
        return self

    def log_text(self) -> str:
        parts = []
        for name in ("reflector.log", "reflector.stderr"):
            try:
                text = (self.directory / name).read_text(errors="replace")
            except OSError:
                text = "(missing)"
            parts.append(f"== {name} ==\n{text}")
        return "\n".join(parts)
