"""One process for every crafted speaker of a lab (issue 18), instead of one interpreter each.

Each speaker keeps its own state directory, API socket, recording and sessions; what changes is
where its sessions' sockets are made: in the speaker's namespace, by the one process
(`speaker_process`, `namespace` in each `speaker.json`), which itself runs in a namespace of the
run that routes nowhere (the fabric's). Each speaker's `speaker.log` is the process's log, so
its evidence reads as before; stopping any speaker stops them all (only teardown does).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from harness.daemons.crafted import CraftedSpeaker, prepare
from harness.runtime.processes import ManagedProcess

NODE = "speakers"  # the process's name in the run's log and state directory


def prepare_speakers(speakers: Sequence[CraftedSpeaker], directory: Path) -> None:
    """Each speaker's config (its OPENs encoded: scapy is imported here) and log link, ahead of
    the start (the netns lab does it while its namespaces are made)."""
    log = directory / "speaker.log"
    log.touch()
    for speaker in speakers:
        prepare(speaker.directory, speaker.sessions, speaker.connect_retry, speaker.namespace)
        own = speaker.directory / "speaker.log"
        own.unlink(missing_ok=True)
        own.symlink_to(log)


def start_speakers(
    speakers: Sequence[CraftedSpeaker],
    *,
    namespace: str,
    directory: Path,
    env: dict[str, str],
    prepared: bool = False,
) -> ManagedProcess | None:
    """Start `speakers` in one process run in `namespace` (`prepare_speakers` first, unless
    `prepared`); return once each listens."""
    if not speakers:
        return None
    if not prepared:
        prepare_speakers(speakers, directory)
    log = directory / "speaker.log"
    process = ManagedProcess(
        node=NODE,
        name="speaker",
        argv=[
            sys.executable,
            "-m",
            "harness.daemons.speaker_process",
            *(str(s.directory) for s in speakers),
        ],
        namespace=namespace,
        env=env,
        log=log,
        cwd=directory,
        component="speaker",
    )
    for speaker in speakers:  # registered before start: teardown stops it either way
        speaker.process = process
    process.start()
    for speaker in speakers:
        speaker.await_listening()
    return process
