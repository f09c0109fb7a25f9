"""A pod's daemon that is one process the harness runs in the pod's namespace (gobgpd, the
harness's own RR): the life cycle the lab and the drills ask of any pod's daemon, once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from harness.runtime.processes import ManagedProcess


@dataclass
class PodProcess:
    """`start()` is the implementation's; stop, kill, restart and check_alive act on the
    processes it started, by PID (harness.runtime.processes)."""

    node: str
    namespace: str
    directory: Path
    config: str
    env: dict[str, str]
    processes: list[ManagedProcess] = field(default_factory=list)

    def start(self) -> Self:
        raise NotImplementedError

    def check_alive(self) -> None:
        for proc in self.processes:
            proc.check_alive()

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM (a daemon that can, says goodbye to its peers), SIGKILL after `grace`."""
        for proc in self.processes:
            proc.stop(grace)

    def kill(self) -> None:
        """SIGKILL, as a crash: the kernel closes the TCP sessions, the daemon says nothing."""
        for proc in self.processes:
            proc.kill()
        self.processes.clear()

    def restart(self) -> Self:
        """Kill and start again with the same config and address: a container restarted in
        place."""
        self.kill()
        return self.start()
