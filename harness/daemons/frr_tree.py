"""FRR from Debian's archive: a root filesystem per suite, built on first use and cached.

`--frr 10.3` names an upstream FRR version. The Debian suite that ships it is found by reading
each suite's package list (bookworm, trixie, sid, in that order) through a private apt
configuration (`-o Dir::Etc::SourceList=... -o Dir::State::Lists=...`): /etc/apt and apt's own
state are never touched; the mirror is the Debian archive the machine's sources name. The tree
is built once with `mmdebstrap --variant=essential --include=frr,iproute2` into
`<cache>/frr/<suite>-<package version>/` (`harness.paths.CACHE_DIR`), named by the version dpkg
installed in it. Builds are serialised by a lock and land by rename, so concurrent runs
(`mutate --jobs N`) build once and never see a half-built tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InputError
from harness.log import logger
from harness.observe.wait import wait_until
from harness.paths import CACHE_DIR

log = logger("frr")

SUITES = ("bookworm", "trixie", "sid")  # searched in this order: the oldest that ships it wins
TREES = CACHE_DIR / "frr"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
LISTS_MAX_AGE = 24 * 3600.0  # a suite's answer is re-read from the archive once a day
APT_TIMEOUT = 300.0
BUILD_TIMEOUT = 900.0
LOCK_TIMEOUT = BUILD_TIMEOUT + 60.0  # another process's build, waited for
_EXCLUDED = ("/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*")
# The machine's own apt settings for reaching its mirror (a frozen mirror's expired Release
# files, a proxy), passed on to the build's apt: it reads the same archive the same way.
_APT_PASSED = re.compile(
    r'^(Acquire::(?:Check-Valid-Until|Check-Date|Retries|(?:https?|ftp)::Proxy\S*)) "(.+)";$'
)


@dataclass(frozen=True)
class Tree:
    """A built root filesystem holding Debian's FRR."""

    suite: str
    package: str  # Debian's version of `frr`, e.g. 10.3-3+deb13u1
    root: Path

    @property
    def source(self) -> str:
        return f"{self.suite} {self.package}"


def upstream(package: str) -> str:
    """`10.3-3+deb13u1` -> `10.3`; `1:8.4.4-1` -> `8.4.4` (epoch and Debian revision off)."""
    return package.split(":", 1)[-1].rsplit("-", 1)[0]


def ships(package: str, wanted: str) -> bool:
    """Whether a package version is upstream `wanted`: `10.7` covers 10.7.1, not 10.70."""
    have = upstream(package)
    return have == wanted or have.startswith(wanted + ".")


def tree(version: str, field: str) -> Tree:
    """The tree of Debian's FRR `version`, built now if it is not cached. `field` names the
    input that asked for it (`--frr`, or the profile's `frr:`) in every error."""
    with _locked(field):
        suite, package = _locate(version, field)
        return _built(suite, package, f"{field} {version}")


def locate(version: str, field: str) -> tuple[str, str]:
    """The first suite of SUITES that ships upstream FRR `version`, and its package version."""
    with _locked(field):
        return _locate(version, field)


def _locate(version: str, field: str) -> tuple[str, str]:
    answers = _answers()
    seen: dict[str, str] = {}
    for suite in SUITES:
        seen[suite] = _package(suite, answers, f"{field} {version}")
        if ships(seen[suite], version):
            return suite, seen[suite]
    listed = ", ".join(f"{s} {v}" for s, v in seen.items())
    raise InputError(f"{field} {version}: no Debian suite ships FRR {version} ({listed})")


def cached(suite: str, package: str) -> Path:
    return TREES / f"{suite}-{package}"


# -- which package each suite ships ---------------------------------------------------------------
def _answers() -> dict[str, dict[str, object]]:
    try:
        return dict(json.loads((TREES / "suites.json").read_text()))
    except (OSError, ValueError):
        return {}


def _remember(suite: str, package: str) -> None:
    answers = _answers()
    answers[suite] = {"package": package, "read_at": time.time()}
    path = TREES / "suites.json"
    path.with_suffix(".tmp").write_text(json.dumps(answers, indent=1))
    path.with_suffix(".tmp").replace(path)


def _package(suite: str, answers: dict[str, dict[str, object]], field: str) -> str:
    """The `frr` version `suite` ships: remembered for a day, else read from its list now. An
    archive that cannot be read is an error only when nothing was remembered."""
    known = answers.get(suite, {})
    age = time.time() - float(str(known.get("read_at", 0)))
    if known and age < LISTS_MAX_AGE:
        return str(known["package"])
    try:
        package = _read_list(suite)
    except InputError as exc:
        if known:
            log.warning("%s; using what was read %.0f h ago", exc, age / 3600)
            return str(known["package"])
        raise InputError(f"{field}: {exc}") from None
    _remember(suite, package)
    return package


def mirror() -> tuple[str, Path]:
    """The Debian archive this machine installs from (its URI and keyring), from the apt
    sources (deb822 `.sources` and one-line `.list` alike): a `deb` entry with `main` for a
    plain suite (not -security or -updates)."""
    files = [SOURCES[0], *sorted(SOURCES[1].glob("*.sources")), *sorted(SOURCES[1].glob("*.list"))]
    for path in files:
        with contextlib.suppress(OSError):
            for uri, keyring in _entries(path.read_text(), deb822=path.suffix == ".sources"):
                return uri, keyring
    raise InputError(
        "no Debian archive in /etc/apt/sources.list{,.d} (a `deb` entry with `main` for a "
        "release such as bookworm): the FRR trees are built from it"
    )


def _entries(text: str, *, deb822: bool) -> Iterator[tuple[str, Path]]:
    if deb822:
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#") and not line[0].isspace():
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
            kinds, suites = fields.get("types", ""), fields.get("suites", "")
            if _debian(kinds, suites, fields.get("components", "")):
                keyring = Path(fields.get("signed-by") or KEYRING)
                yield fields.get("uris", "").split()[0], keyring if keyring.is_file() else KEYRING
        return
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(words) >= 4 and _debian(words[0], words[2], " ".join(words[3:])):
            yield words[1], KEYRING


def _debian(types: str, suites: str, components: str) -> bool:
    return (
        "deb" in types.split()
        and "main" in components.split()
        and any("-" not in s and "/" not in s for s in suites.split())
    )


def _read_list(suite: str) -> str:
    """Read `suite`'s package list from the archive into a private apt state, and return the
    version of `frr` it holds."""
    uri, keyring = mirror()
    state = TREES / "apt" / suite
    for sub in ("lists/partial", "cache/archives/partial", "sources.list.d"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    (state / "sources.list").write_text(f"deb [signed-by={keyring}] {uri} {suite} main\n")
    options = [
        f"-oDir::Etc::SourceList={state / 'sources.list'}",
        f"-oDir::Etc::SourceParts={state / 'sources.list.d'}",
        f"-oDir::State::Lists={state / 'lists'}",
        f"-oDir::Cache={state / 'cache'}",
        "-oDir::State::status=/dev/null",
        "-oAcquire::Languages=none",
        *(["-oAPT::Sandbox::User=root"] if os.geteuid() == 0 else []),
    ]
    log.info("reading the package list of %s from %s", suite, uri)
    update = _apt(["apt-get", "-q", *options, "update", "--error-on=any"])
    if update.returncode != 0 or re.search(r"^(E|W): ", update.stdout, re.M):
        why = [ln.strip() for ln in update.stdout.splitlines() if ln.startswith(("E:", "W:"))]
        raise InputError(
            f"cannot read Debian's package list for {suite} from {uri}: "
            + ("; ".join(why[:3]) or f"apt-get update exited {update.returncode}")
        )
    show = _apt(["apt-cache", *options, "show", "--no-all-versions", "frr"])
    match = re.search(r"^Version: (\S+)", show.stdout, re.M)
    if show.returncode != 0 or match is None:
        raise InputError(f"{suite} at {uri} has no frr package ({show.stdout.strip()[:200]})")
    return match.group(1)


def _apt(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # apt's warnings (W:) go to stderr
            text=True,
            timeout=APT_TIMEOUT,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except FileNotFoundError:
        raise InputError(f"{argv[0]} is missing: the FRR trees need Debian's apt") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{' '.join(argv[:2])} took over {APT_TIMEOUT:.0f} s") from None


# -- building -----------------------------------------------------------------------------------
def _built(suite: str, package: str, field: str) -> Tree:
    """The cached tree of `suite`'s FRR, built now if absent (the caller holds the lock).
    `field` names what asked for it (`--frr 10.3`) in errors."""
    final = cached(suite, package)
    if final.is_dir():
        return Tree(suite, package, final)
    if shutil.which("mmdebstrap") is None:
        raise InputError(
            f"{field}: building its root filesystem needs mmdebstrap "
            "(apt-get install mmdebstrap; ./dev.sh installs it)"
        )
    if os.geteuid() != 0:
        raise InputError(f"{field}: building its root filesystem needs root")
    for stale in TREES.glob(".building-*"):  # a build killed half-way (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    building = TREES / f".building-{suite}-{os.getpid()}"
    uri, _ = mirror()
    print(
        f"rr-harness: building FRR {upstream(package)} ({suite} {package}) into {final} with "
        "mmdebstrap, once (about a minute)",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    argv = [
        "mmdebstrap",
        "--variant=essential",
        "--include=frr,iproute2",
        *(f"--dpkgopt=path-exclude={p}" for p in _EXCLUDED),
        *(f'--aptopt={name} "{value}"' for name, value in _apt_settings()),
        suite,
        str(building),
        uri,
    ]
    build_log = TREES / f"build-{suite}.log"
    try:
        with build_log.open("w") as out:
            done = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT, check=False
            )
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        lines = build_log.read_text(errors="replace").strip().splitlines()
        tail = next((ln for ln in lines if ln.startswith("E:")), "; ".join(lines[-3:]))
        status = "timed out" if done is None else f"exited {done.returncode}"
        raise InputError(f"{field}: mmdebstrap {status} ({build_log}): {tail}")
    installed = installed_frr(building) or package
    final = cached(suite, installed)  # named by what dpkg installed (the mirror may have moved)
    if final.is_dir():
        shutil.rmtree(building, ignore_errors=True)
    else:
        building.replace(final)
    _remember(suite, installed)
    log.info("built %s in %.1f s", final, time.monotonic() - started)
    print(
        f"rr-harness: FRR tree ready in {time.monotonic() - started:.0f} s: {final}",
        file=sys.stderr,
        flush=True,
    )
    return Tree(suite, installed, final)


def _apt_settings() -> list[tuple[str, str]]:
    """The machine's apt settings the build's apt needs too (`_APT_PASSED`)."""
    dump = _apt(["apt-config", "dump", "Acquire"]).stdout
    return [(m[1], m[2]) for m in map(_APT_PASSED.match, dump.splitlines()) if m]


def installed_frr(root: Path) -> str | None:
    """The version of `frr` dpkg installed in a root filesystem (None: not installed)."""
    try:
        status = (root / "var/lib/dpkg/status").read_text(errors="replace")
    except OSError:
        return None
    for stanza in status.split("\n\n"):
        if re.search(r"^Package: frr$", stanza, re.M) and "install ok installed" in stanza:
            match = re.search(r"^Version: (\S+)", stanza, re.M)
            return match.group(1) if match else None
    return None


@contextlib.contextmanager
def _locked(field: str) -> Iterator[None]:
    """One process at a time reads the lists or builds; the others wait for it (deadline)."""
    TREES.mkdir(parents=True, exist_ok=True)
    with (TREES / ".lock").open("a+") as handle:

        def take() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        wait_until(take, timeout=LOCK_TIMEOUT, what=f"{field}: another run's FRR tree build")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
