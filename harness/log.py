"""The harness's own log: one logger per component under `rr_harness` (`rr_harness.netns`,
`rr_harness.frr`, `rr_harness.pods`, ...), written per run to `reports/<run id>/harness.log`.

The terminal stays the CLI's and pytest's: records reach it only through `tell`, which also
keeps what it says in the log. Levels: INFO for what a reader of a run wants (a daemon started
with its PID, the lab's steps and timings, a pod event, a config change applied), DEBUG for
detail.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = "rr_harness"
RUN_LOG = "harness.log"
_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"

# The harness's records go to the run's log and nowhere else: not up to the root logger (pytest
# would add them to every failed test's report), nor to Python's last-resort stderr handler.
_root = logging.getLogger(ROOT)
_root.propagate = False
_root.addHandler(logging.NullHandler())


def logger(component: str) -> logging.Logger:
    """The logger of one component of the harness."""
    return logging.getLogger(f"{ROOT}.{component}")


def tell(log: logging.Logger, message: str) -> None:
    """Say `message` on stderr, as the CLI always has, and keep it in the run's log."""
    log.warning(message)
    print(f"rr-harness: {message}", file=sys.stderr)


@contextmanager
def run_log(path: Path, level: str) -> Iterator[Path | None]:
    """Write every component's records at `level` (`debug`, `info`, ...) or above to `path`
    while the block runs. A log that cannot be written is said once, and the run goes on
    without it (None)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        print(f"rr-harness: no run log ({exc})", file=sys.stderr)
        yield None
        return
    handler.setFormatter(logging.Formatter(_FORMAT, "%Y-%m-%d %H:%M:%S"))
    previous = _root.level
    _root.setLevel(level.upper())
    _root.addHandler(handler)
    try:
        yield path
    finally:
        _root.removeHandler(handler)
        handler.close()
        _root.setLevel(previous)
