"""Where things live: the project's fixtures and suites, and the run state directory."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUITES_DIR = PROJECT_ROOT / "suites"
FIXTURES_DIR = PROJECT_ROOT / "fixtures"
DEFAULT_TOPOLOGY = FIXTURES_DIR / "topologies" / "cloud-hybrid.yaml"
DEFAULT_SUT = FIXTURES_DIR / "sut" / "standalone-rr"
REPORTS_DIR = PROJECT_ROOT / "reports"


def _state_root() -> Path:
    """Per-run state (daemon configs, sockets, logs, the run manifest): /run/rr-harness for
    root (netns needs root); a kind run may be anyone's: then the user's runtime directory."""
    if os.geteuid() == 0:
        return Path("/run/rr-harness")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "rr-harness" if runtime else Path(f"/tmp/rr-harness-{os.geteuid()}")


RUN_STATE_ROOT = _state_root()
