"""Where things live: the suites and fixtures, the reports, and the run state directory.

- In a source checkout (harness/ beside pyproject.toml, suites/ and fixtures/, whether or not it
  is pip-installed in editable mode): the checkout's suites/ and fixtures/, and reports/ in the
  checkout.
- Installed from a wheel: the suites and fixtures the wheel carries inside the package
  (harness/suites, harness/fixtures; pyproject.toml maps the checkout's folders there), and
  reports/ in the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _checkout() -> Path | None:
    root = _PACKAGE_DIR.parent
    if all((root / name).exists() for name in ("pyproject.toml", "suites", "fixtures")):
        return root
    return None


PROJECT_ROOT = _checkout()
"""The source checkout this harness belongs to; None for an installed copy."""
_DATA_DIR = PROJECT_ROOT or _PACKAGE_DIR
SUITES_DIR = _DATA_DIR / "suites"
FIXTURES_DIR = _DATA_DIR / "fixtures"
DEFAULT_TOPOLOGY = FIXTURES_DIR / "topologies" / "cloud-hybrid.yaml"
DEFAULT_SUT = FIXTURES_DIR / "sut" / "standalone-rr"
REPORTS_DIR = (PROJECT_ROOT or Path.cwd()) / "reports"


def _state_root() -> Path:
    """Per-run state (daemon configs, sockets, logs, the run manifest): /run/rr-harness for
    root (netns needs root); a kind run may be anyone's: then the user's runtime directory."""
    if os.geteuid() == 0:
        return Path("/run/rr-harness")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "rr-harness" if runtime else Path(f"/tmp/rr-harness-{os.geteuid()}")


RUN_STATE_ROOT = _state_root()


def _cache_root() -> Path:
    """What is worth keeping between runs (FRR root filesystems): $XDG_CACHE_HOME/rr-harness,
    or ~/.cache/rr-harness."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rr-harness"


CACHE_DIR = _cache_root()

# The host's FRR makes one directory per daemon process here (`<daemon>.<pid>`: log buffers, and
# `crashlog` when it dies of a signal).
FRR_HOST_TMP = Path("/var/tmp/frr")
