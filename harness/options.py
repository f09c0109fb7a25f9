"""Every option of a run, declared once: the CLI (`rr-harness`) and the pytest plugin read
this table, so a flag, its type, its default and its help cannot drift between the two.

`LAB` are the options of the lab itself: the plugin declares them (so `pytest suites ...`
takes them) and `rr-harness run` forwards them to pytest (`forward`). The command tables add
what only a command has; `rr-harness mutate` takes some lab options with other defaults.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.model.sut import frr_choice, is_frr_path
from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY, REPORTS_DIR

BACKENDS = ("netns", "kind")
LOG_LEVELS = ("debug", "info", "warning", "error")
CONVERGENCE_TIMEOUT = 10.0  # seconds for routes to reach (or leave) every client
ESTABLISH_TIMEOUT = 20.0  # seconds for every BGP session at start-up


# -- value types (argparse `type=`; pytest's parser is argparse too) ---------------------------
def seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def sizes(text: str) -> list[int]:
    """Comma-separated table sizes, each a whole number of at least 1."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N[,N...], got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be at least 1, got {text!r}")
    return values


def count(minimum: int) -> Callable[[str], int]:
    """A whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}, got {value}")
        return value

    return parse


def frr(text: str) -> str:
    """`host`, an FRR version (`10.3`), or a path to a root filesystem (made absolute)."""
    try:
        choice = frr_choice(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, got {text!r}") from None
    return str(Path(choice).expanduser().resolve()) if is_frr_path(choice) else choice


def names(text: str) -> list[str]:
    """Comma-separated names."""
    return [n for n in text.split(",") if n]


# -- the table -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    """One option: argparse's keywords, plus the flag the pytest plugin declares it under
    (`pytest_flag`; None: a CLI-only option)."""

    flags: tuple[str, ...]
    help: str = ""
    type: Callable[[str], Any] | None = None
    default: Any = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    action: str | None = None
    dest: str | None = None
    nargs: str | None = None
    const: Any = None
    pytest_flag: str | None = None

    @property
    def name(self) -> str:
        """The attribute it lands in (`--run-id` -> `run_id`)."""
        return self.dest or self.flags[-1].lstrip("-").replace("-", "_")

    def add_to(self, add: Callable[..., Any], *, flags: Sequence[str] | None = None) -> None:
        """Declare it through `add` (argparse's `add_argument`, pytest's `addoption`)."""
        keywords = {
            "help": self.help,
            "type": self.type,
            "default": self.default,
            "metavar": self.metavar,
            "choices": self.choices,
            "action": self.action,
            "dest": self.dest,
            "nargs": self.nargs,
            "const": self.const,
        }
        add(*(flags or self.flags), **{k: v for k, v in keywords.items() if v is not None})


def _lab(flag: str, **keywords: Any) -> Option:
    return Option((flag,), pytest_flag=flag, **keywords)


SUT = _lab(
    "--sut",
    type=Path,
    default=DEFAULT_SUT,
    metavar="DIR",
    help="SUT profile directory (sut.yaml + templates)",
)
TOPOLOGY = _lab(
    "--topology", type=Path, default=DEFAULT_TOPOLOGY, metavar="FILE", help="topology YAML file"
)
BACKEND = _lab("--backend", default="netns", choices=BACKENDS, help="where pods run")
KUBECONFIG = _lab(
    "--kubeconfig",
    type=Path,
    metavar="PATH",
    help="kind backend: an existing cluster (default: create a kind cluster for the run)",
)
RUN_ID = _lab("--run-id", metavar="ID", help="tag for this run's resources")
CONVERGENCE = _lab(
    "--convergence-timeout",
    type=seconds,
    default=CONVERGENCE_TIMEOUT,
    metavar="SECONDS",
    help="deadline for routes to reach (or leave) every client",
)
ESTABLISH = _lab(
    "--establish-timeout",
    type=seconds,
    default=ESTABLISH_TIMEOUT,
    metavar="SECONDS",
    help="deadline for every BGP session at start-up",
)
FRR = _lab(
    "--frr",
    type=frr,
    metavar="VERSION",
    help="the FRR the SUT's pods run (default: the profile's `frr:`): host (the installed "
    "FRR), 8.4, 10.3, 10.7 (Debian's package, in a root filesystem built on first use), or "
    "a path to a root filesystem with FRR",
)
REPEAT = _lab(
    "--repeat",
    type=count(1),
    default=5,
    metavar="N",
    help="failover: run each drill N times (p50/p95/max over them)",
)

LOG_LEVEL = Option(
    ("--log-level",),
    default="info",
    choices=LOG_LEVELS,
    help="what the run's log keeps (<run id>/harness.log beside the JUnit report); the "
    "terminal is unchanged",
    pytest_flag="--rr-log-level",  # pytest itself owns --log-level
)

LAB: tuple[Option, ...] = (
    BACKEND,
    KUBECONFIG,
    _lab(
        "--peer-image",
        metavar="REF",
        help="kind backend: image of the peer pods (default rr-harness-peer:dev, built from "
        "fixtures/images/exabgp)",
    ),
    SUT,
    TOPOLOGY,
    FRR,
    RUN_ID,
    CONVERGENCE,
    ESTABLISH,
    REPEAT,
    _lab(
        "--routes",
        type=count(0),
        default=0,
        metavar="N",
        help="failover: N extra EVPN routes (hosts on the first router) during each drill",
    ),
    LOG_LEVEL,
)

RUN: tuple[Option, ...] = (
    Option(
        ("suites",),
        nargs="*",
        metavar="SUITE",
        help="suite name ({known}) or a test file (default: every suite)",
    ),
    *LAB,
    Option(("--junitxml",), type=Path, default=REPORTS_DIR / "junit.xml", metavar="PATH"),
    Option(
        ("-k",),
        dest="keyword",
        metavar="EXPR",
        help="only tests matching this pytest -k expression",
    ),
    Option(("-q", "--quiet"), action="store_true", help="one character per test"),
    Option(
        ("--keep-logs",),
        type=count(0),
        default=10,
        metavar="N",
        help="keep the folders (log, kept configs) of the last N runs beside the JUnit report, "
        "remove older ones (0: keep all)",
    ),
)

VALIDATE: tuple[Option, ...] = (SUT, TOPOLOGY, FRR)

MUTATE: tuple[Option, ...] = (
    Option(("variants",), nargs="*", metavar="VARIANT", help="default: the whole catalogue"),
    SUT,
    TOPOLOGY,
    FRR,
    Option(("--reports",), type=Path, default=REPORTS_DIR / "mutations", metavar="DIR"),
    replace(
        CONVERGENCE,
        default=3.0,
        help="shorter than for `run`: a broken variant waits it out once per check",
    ),
    replace(ESTABLISH, default=8.0),
    Option(
        ("--jobs",),
        type=count(1),
        default=3,
        metavar="N",
        help="variants run at once (each is a lab of its own)",
    ),
    replace(REPEAT, default=1),
    LOG_LEVEL,
    Option(("--list",), action="store_true", help="list the variants and exit"),
)

# What `rr-harness mutate` passes on to each variant's `rr-harness run` (the variant brings its
# own --sut and --topology).
VARIANT_RUN_OPTIONS = frozenset(
    {"frr", "convergence_timeout", "establish_timeout", "repeat", "log_level"}
)

BENCH: tuple[Option, ...] = (
    Option(
        ("scenarios",),
        nargs="*",
        metavar="SCENARIO",
        help="throughput, failover, memory, overhead (default: these, in that order); "
        "yardstick (`run reflection` against FRR's bgp_rr_ibgp topotest, paired: --topotests)",
    ),
    Option(
        ("--routes",),
        type=sizes,
        metavar="N[,N...]",
        help="table sizes (default: 10000,50000,100000; failover 1000,10000,100000)",
    ),
    Option(("--clients",), type=count(1), default=3, metavar="K", help="receivers"),
    replace(REPEAT, default=1, help="failover: runs per size"),
    SUT,
    TOPOLOGY,
    FRR,
    Option(("--json",), type=Path, default=REPORTS_DIR / "bench.json", metavar="PATH"),
    Option(("--timeout",), type=seconds, default=120.0, metavar="SECONDS"),
    Option(
        ("--suites",),
        type=names,
        metavar="NAME[,NAME...]",
        help="overhead: time these suites (default: every one but failover and meshrr)",
    ),
    Option(
        ("--topotests",),
        type=Path,
        metavar="DIR",
        help="yardstick: FRR's tests/topotests directory (of the FRR release to compare with)",
    ),
    Option(
        ("--topotest-python",),
        default="python3",
        metavar="PATH",
        help="yardstick: the Python FRR's topotests run with (FRR 8.4's: pytest 7, scapy, "
        "xmltodict; default python3)",
    ),
    replace(LOG_LEVEL, help="what the bench's log keeps (bench.log beside --json)"),
)

FUZZ: tuple[Option, ...] = (
    Option(
        ("--seconds",),
        type=seconds,
        default=60.0,
        metavar="N",
        help="how long to send messages, once the lab is up",
    ),
    Option(
        ("--seed",),
        type=count(0),
        default=1,
        metavar="S",
        help="the run's seed: message i of seed S is the same bytes on every run",
    ),
    SUT,
    TOPOLOGY,
    FRR,
    Option(
        ("--replay",),
        type=Path,
        metavar="FILE",
        help="send a saved finding again (its .hex or .pcap) instead of fuzzing",
    ),
    Option(
        ("--reports",),
        type=Path,
        default=REPORTS_DIR / "fuzz",
        metavar="DIR",
        help="where findings (hex, pcap) and summary.json go",
    ),
    replace(LOG_LEVEL, help="what the fuzzer's log keeps (fuzz.log in --reports)"),
)

CLEANUP: tuple[Option, ...] = (
    replace(RUN_ID, help="only this run"),
    Option(
        ("--reports",),
        type=Path,
        nargs="?",
        const=REPORTS_DIR,
        metavar="DIR",
        help="instead: remove the folders of all but the last --keep-logs runs from DIR "
        "(default reports/)",
    ),
    Option(
        ("--keep-logs",),
        type=count(1),
        default=10,
        metavar="N",
        help="with --reports: the runs whose folders stay",
    ),
    Option(("--force",), action="store_true", help="also runs whose owning process is still alive"),
    BACKEND,
    replace(
        KUBECONFIG,
        help="kind backend: remove run namespaces from this cluster (default: runs' kind clusters)",
    ),
)

REPORT: tuple[Option, ...] = (
    Option(("junit",), type=Path, nargs="+", metavar="FILE.xml", help="JUnit files of runs"),
    Option(
        ("--html",),
        type=Path,
        default=REPORTS_DIR / "matrix.html",
        metavar="OUT.html",
        help="the check x run matrix page",
    ),
)

COMMANDS: dict[str, tuple[str, tuple[Option, ...]]] = {
    "run": ("run conformance suites (default: all)", RUN),
    "validate": ("check a topology and SUT profile, start nothing", VALIDATE),
    "mutate": ("run the suites against broken SUT variants", MUTATE),
    "bench": ("measure reflection, failover, memory, overhead", BENCH),
    "fuzz": ("send seeded malformed UPDATEs to an RR pod, check it survives each", FUZZ),
    "report": ("merge runs' JUnit files into one check x run matrix (HTML)", REPORT),
    "cleanup": ("remove what killed runs left behind (--reports: old runs' logs)", CLEANUP),
}


def plugin_options() -> tuple[Option, ...]:
    """The options the pytest plugin declares."""
    return tuple(o for o in LAB if o.pytest_flag)


def forward(
    args: argparse.Namespace, options: Iterable[Option], *, to: str = "pytest"
) -> list[str]:
    """Arguments carrying the values of `options` from parsed CLI `args` on to pytest (the
    plugin's flags) or to another `rr-harness run` (`to="cli"`): paths made absolute, unset
    options left out."""
    out = []
    for option in options:
        value = getattr(args, option.name, None)
        flag = option.pytest_flag if to == "pytest" else option.flags[-1]
        if flag is None or value is None:
            continue
        if isinstance(value, Path):
            value = value.resolve()
        out.append(f"{flag}={value}")
    return out
