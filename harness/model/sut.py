"""SUT profile: a directory holding the system under test's own configuration.

    sut.yaml                 values (asn, cluster id, pod CIDR, replicas, timers)
    route-reflector.conf.j2  FRR config of one RR pod
    router.conf.j2           FRR config of one router pod

`templates` in sut.yaml names other files for either (paths relative to the profile): an RR
implementation with its own config format (`gobgpd.toml.j2`), or a router template shared with
another profile (`../standalone-rr/router.conf.j2`) rather than copied.

The default profile reproduces OpenPERouter's standalone route-reflector design; `--sut DIR`
points the same suites at another directory of the same shape (a release candidate's templates,
a broken variant).
Templates render with StrictUndefined: a name the harness does not provide is an input error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Literal, Self

import jinja2
from pydantic import Field, StrictInt, ValidationError, field_validator, model_validator

from harness.errors import InputError
from harness.model.base import Asn, Family, Frozen
from harness.model.template_cache import template_cache
from harness.model.underlay import Underlay

SUT_FILE = "sut.yaml"
RR_TEMPLATE = "route-reflector.conf.j2"
ROUTER_TEMPLATE = "router.conf.j2"
HOST_FRR = "host"
_FRR_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")


def frr_choice(text: str) -> str:
    """Which FRR the SUT's pods run (`frr:` in sut.yaml, `--frr`): `host` (the installed FRR),
    an upstream version (`10.3`: the Debian suite that ships it), or a path to a root filesystem
    holding FRR. Only the form is checked here; harness.daemons.frr_runtime resolves it."""
    text = text.strip()
    if text == HOST_FRR or _FRR_VERSION.fullmatch(text) or is_frr_path(text):
        return text
    raise ValueError(
        f"expected {HOST_FRR}, an FRR version such as 10.3, or a path to a root filesystem with FRR"
    )


def is_frr_path(choice: str) -> bool:
    """A choice naming a root filesystem (it has a slash, or starts with `.` or `~`)."""
    return "/" in choice or choice.startswith((".", "~"))


class Timers(Frozen):
    """BGP timers the templates apply. Test-friendly values live here, not in code."""

    keepalive: StrictInt = Field(3, ge=1, le=21845)
    hold: StrictInt = Field(9, ge=3, le=65535)
    connect_retry: StrictInt = Field(2, ge=1, le=65535, description="FRR `timers connect`")

    @model_validator(mode="after")
    def _hold_covers_keepalive(self) -> Self:
        if self.hold < self.keepalive:
            raise ValueError(f"timers.hold: {self.hold} is below keepalive {self.keepalive}")
        return self


class Readiness(Frozen):
    """The RR pod's readiness probe: TCP 179 accepting (design, RR Deployment `readinessProbe`).

    The design's Deployment probes after 5 s, every 5 s; a lab profile may probe faster so a
    reschedule takes seconds. The netns backend runs this probe; kind renders it.
    """

    initial_delay: float = Field(5.0, ge=0, le=300, description="seconds before the first probe")
    period: float = Field(5.0, gt=0, le=300, description="seconds between probes")
    failure_threshold: StrictInt = Field(
        3, ge=1, le=100, description="failed probes in a row before not ready (Kubernetes: 3)"
    )


class GracefulRestart(Frozen):
    """BGP graceful restart (RFC 4724) on RR and router pods. Off in the design; when on, a
    router keeps an RR's routes as stale while that RR restarts, for up to `restart_time`."""

    enabled: bool = False
    restart_time: StrictInt = Field(120, ge=1, le=4095, description="seconds (RFC 4724 §3)")


class Side(Frozen):
    """One meshrr redundancy group: its route servers and the address its clients peer with."""

    replicas: StrictInt = Field(ge=1, le=8)
    anycast: IPv4Address = Field(description="the side's peering address (a LoadBalancer IP)")
    cluster_id: IPv4Address | None = Field(
        None, description="shared by the side's route servers when cluster_id_scope is side"
    )


class Mesh(Frozen):
    """meshrr (meshrr's design: fully meshed route servers in redundancy groups): route servers in
    redundancy groups, an iBGP full mesh between all of them, one anycast address per side."""

    sides: dict[Literal["a", "b"], Side] = Field(min_length=1)
    cluster_id_scope: Literal["route-server", "side"] = Field(
        "route-server",
        description="route-server: each its own cluster, id = its pod IP (meshrr's templates); "
        "side: the side's route servers share sides.<side>.cluster_id",
    )
    poll_interval: float = Field(
        1.0, gt=0, le=300, description="seconds between two looks of meshrr's peer updater"
    )
    client_range: IPv4Network = Field(
        description="where clients peer from (the route servers' listen range); it must not hold "
        "route servers, or a new one would be taken for a client before the mesh knows it"
    )

    @model_validator(mode="after")
    def _side_ids(self) -> Self:
        if self.cluster_id_scope == "side":
            for name, side in self.sides.items():
                if side.cluster_id is None:
                    raise ValueError(f"sides.{name}.cluster_id: required by cluster_id_scope side")
        return self


class Templates(Frozen):
    """The profile's two templates, as paths relative to its directory."""

    route_reflector: str = Field(
        RR_TEMPLATE,
        min_length=1,
        description="config of one RR pod, in its implementation's format",
    )
    router: str = Field(ROUTER_TEMPLATE, min_length=1, description="FRR config of one router pod")


RrLifecycle = Literal["deployment", "daemonset"]


class SutValues(Frozen):
    """Contents of sut.yaml (the Helm values of the design, `routeReflector.*`). With
    `underlay`, the SUT is OpenPERouter's merged design (harness.model.underlay): `cluster_id`,
    `pod_cidr` (the clients' listen range) and `families` then follow from it."""

    name: str = Field(min_length=1)
    description: str = ""
    asn: Asn
    cluster_id: IPv4Address
    pod_cidr: IPv4Network
    replicas: StrictInt = Field(ge=1, le=16)
    families: tuple[Family, ...] = Field(
        (Family.L2VPN_EVPN,),
        min_length=1,
        description="address families the route reflectors reflect",
    )
    implementation: str = Field(
        "frr", description="the route reflector / route server implementation (a driver)"
    )
    frr: str = Field(
        HOST_FRR,
        description="the FRR the SUT ships, which its pods run: host, a version (10.3), or a "
        "path to a root filesystem (relative to the profile); `--frr` overrides it",
    )
    templates: Templates = Templates()
    timers: Timers = Timers()
    readiness: Readiness = Readiness()
    min_ready_seconds: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="RR Deployment `minReadySeconds`: a rollout waits this long after a new "
        "pod is ready before it takes down an old one (Kubernetes' default and the design: 0)",
    )
    graceful_restart: GracefulRestart = GracefulRestart()
    meshrr: Mesh | None = Field(
        None, description="present: the SUT is meshrr's route servers, not standalone RR pods"
    )
    harness_routers: tuple[str, ...] = Field(
        (),
        description="router pods (topology node names) the harness plays with its crafted "
        "speaker instead of FRR: a router that applies no rule to what it receives, the broken "
        "router of the mutation proof (netns only); it keeps one iBGP session per RR pod",
    )
    underlay: Underlay | None = Field(
        None,
        description="present: OpenPERouter's merged design, the RRs being router pods of the "
        "nodes whose Underlay has routeReflector (values shaped like the Underlay API)",
    )
    rr_lifecycle: RrLifecycle = Field(
        "deployment",
        description="deployment: a deleted RR pod is replaced by one with a new name and IP "
        "(the standalone design); daemonset: by one on the same node with the same address "
        "(a per-node router pod)",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_underlay(cls, data: Any) -> Any:
        """With `underlay`, the values the suites read are the Underlay's: written once."""
        if not isinstance(data, dict) or not isinstance(data.get("underlay"), dict):
            return data
        try:
            underlay = Underlay.model_validate(data["underlay"])
        except ValidationError as err:  # named by its full path, as a field error would be
            first = err.errors(include_url=False)[0]
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            got = first.get("input")
            shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
            raise ValueError(f"underlay{path}: {message}{shown}") from None
        derived = {
            "cluster_id": str(underlay.routeReflector.clusterID),
            "pod_cidr": str(underlay.client_range),
            "families": [f.value for f in underlay.reflected],
        }
        for key, value in derived.items():
            if key in data:
                raise ValueError(
                    f"{key}: follows from underlay ({value}); write it there, not here"
                )
        return {**data, **derived}

    @field_validator("frr", mode="before")
    @classmethod
    def _frr_is_text(cls, value: Any) -> Any:
        # YAML reads 10.3 as a number, and 10.10 as 10.1: a version is written as a string.
        if isinstance(value, int | float):
            raise ValueError(
                f'write the version as a string (frr: "{value}"): YAML reads it as a number'
            )
        return frr_choice(value) if isinstance(value, str) else value

    @field_validator("harness_routers")
    @classmethod
    def _each_router_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, name in enumerate(value):
            if not name.strip():
                raise ValueError(f"entry {i} is empty: name a router node of the topology")
            if name in value[:i]:
                raise ValueError(f"entry {i} names {name} a second time")
        return value

    @model_validator(mode="after")
    def _replicas_cover_the_sides(self) -> Self:
        if self.meshrr is not None:
            total = sum(side.replicas for side in self.meshrr.sides.values())
            if total != self.replicas:
                raise ValueError(
                    f"replicas: {self.replicas}, but the meshrr sides hold {total} route servers"
                )
        return self

    @model_validator(mode="after")
    def _lifecycle_fits(self) -> Self:
        if self.rr_lifecycle == "daemonset" and self.underlay is None:
            raise ValueError(
                "rr_lifecycle: daemonset is OpenPERouter's per-node router pod: it needs underlay"
            )
        if self.meshrr is not None and self.underlay is not None:
            raise ValueError("underlay: a SUT is meshrr's or OpenPERouter's design, not both")
        return self

    @property
    def kind(self) -> str:
        if self.underlay is not None:
            return "openperouter-upstream"
        return "standalone-rr" if self.meshrr is None else "meshrr"

    @property
    def suite_kinds(self) -> tuple[str, ...]:
        """The `sut_kind` markers whose suites apply: OpenPERouter's merged design is judged
        by the route-reflector suites written for the standalone design, unchanged (what the
        designs do differently is the plan's: static RR neighbors, RR-to-RR sessions)."""
        if self.underlay is not None:
            return (self.kind, "standalone-rr")
        return (self.kind,)

    @property
    def rr_is_router(self) -> bool:
        """The RR is a router pod (zebra and bgpd), not an RR-only pod (bgpd)."""
        return self.underlay is not None

    @property
    def static_rr_neighbors(self) -> bool:
        """Routers list the RR addresses themselves (no controller discovers RR pods), and
        the RRs peer with each other."""
        return self.underlay is not None


@dataclass(frozen=True)
class SutProfile:
    directory: Path
    values: SutValues
    environment: jinja2.Environment
    frr_field: str = ""  # where `values.frr` came from, for messages: `--frr` or sut.yaml's field

    @property
    def frr_origin(self) -> str:
        return self.frr_field or f"{self.directory / SUT_FILE}: frr:"

    def render(self, template: str, **context: Any) -> str:
        """Render one template; a missing name is reported against the template file."""
        try:
            return self.environment.get_template(template).render(sut=self.values, **context)
        except jinja2.UndefinedError as exc:
            raise InputError(f"{self.directory / template}: {exc.message}") from None
        except Exception as exc:
            raise InputError(
                f"{self.directory / template}: rendering failed: {type(exc).__name__}: {exc}"
            ) from None


def template_environment(directory: Path, templates: Templates | None = None) -> jinja2.Environment:
    """Compile both templates now, so a syntax error stops the run before anything starts. A
    template is found by its path relative to the profile (`..` included: a shared file)."""
    templates = templates or Templates()
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: _source(directory, name)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        bytecode_cache=template_cache(),
    )
    for field, name in templates.model_dump().items():
        path = directory / name
        if not path.is_file():
            raise InputError(
                f"{path}: missing (a SUT profile holds {SUT_FILE}, {RR_TEMPLATE}, "
                f"{ROUTER_TEMPLATE})"
                if name == Templates.model_fields[field].default
                else f"{directory / SUT_FILE}: templates.{field}: {name}: no such file"
            )
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise InputError(f"{path}:{exc.lineno}: {exc.message}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read: {exc}") from None
    return env


def _source(directory: Path, name: str) -> tuple[str, str, Callable[[], bool]]:
    path = directory / name
    text = path.read_text()
    mtime = path.stat().st_mtime
    return text, str(path), lambda: path.is_file() and path.stat().st_mtime == mtime
