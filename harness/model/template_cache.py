"""Compiled Jinja2 templates kept between runs (issue 18): compiling the SUT profile's two
templates took about 30 ms of every run's start, before anything else could begin.

Jinja2 keys each entry by the template's name and file, and compares a checksum of its source
before using it, so an edited template is compiled again. The folder is the user's own
(`CACHE_DIR/templates`: compiled code is loaded from it, so it is used only if it is a folder
of this user's that nobody else may write, mode 0700 when made here); it keeps the newest
`KEPT` entries (each profile copy a mutation variant or a test makes adds its own). An entry
that cannot be read is compiled again; a folder that cannot be made or written leaves
templates compiled on every run, as before.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import jinja2
from jinja2.bccache import Bucket

from harness.paths import CACHE_DIR

KEPT = 64


class TemplateCache(jinja2.FileSystemBytecodeCache):
    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a truncated or foreign entry: compiled again
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):  # a full or read-only disk: compiled, not kept
            super().dump_bytecode(bucket)
            _keep_newest(Path(self.directory), KEPT)


def _keep_newest(folder: Path, count: int) -> None:
    entries = []
    for path in folder.glob("__jinja2_*.cache"):
        with contextlib.suppress(OSError):
            entries.append((path.stat().st_mtime, path))
    for _, path in sorted(entries, reverse=True)[count:]:
        path.unlink(missing_ok=True)


def template_cache() -> TemplateCache | None:
    directory = CACHE_DIR / "templates"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = os.lstat(directory)
    except OSError:
        return None
    if (
        not stat.S_ISDIR(found.st_mode)
        or found.st_uid != os.geteuid()
        or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        return None  # not a folder only this user writes: its code is not loaded
    return TemplateCache(str(directory))
