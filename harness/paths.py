"""Where things live: the project's fixtures and suites, and the run state directory."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUITES_DIR = PROJECT_ROOT / "suites"
FIXTURES_DIR = PROJECT_ROOT / "fixtures"
DEFAULT_TOPOLOGY = FIXTURES_DIR / "topologies" / "cloud-hybrid.yaml"
DEFAULT_SUT = FIXTURES_DIR / "sut" / "standalone-rr"
REPORTS_DIR = PROJECT_ROOT / "reports"

# Per-run state (daemon configs, sockets, logs, the run manifest). tmpfs, root-owned.
RUN_STATE_ROOT = Path("/run/rr-harness")
