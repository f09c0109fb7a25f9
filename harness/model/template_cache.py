"""Compiled Jinja2 templates kept between runs (issue 18): compiling the SUT profile's two
templates took about 30 ms of every run's start, before anything else could begin.

Jinja2 keys each entry by the template's name and file, and compares a checksum of its source
before using it, so an edited template is compiled again. The folder is the user's own
(`CACHE_DIR/templates`, mode 0700: compiled code is loaded from it); one that cannot be made or
written leaves templates compiled every run, as before.
"""

from __future__ import annotations

import contextlib

import jinja2
from jinja2.bccache import Bucket

from harness.paths import CACHE_DIR


class TemplateCache(jinja2.FileSystemBytecodeCache):
    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):  # a full or read-only disk: compiled, not kept
            super().dump_bytecode(bucket)


def template_cache() -> TemplateCache | None:
    directory = CACHE_DIR / "templates"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return TemplateCache(str(directory))
