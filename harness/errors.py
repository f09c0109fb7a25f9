"""One error hierarchy, rooted in `HarnessError`.

Every message names the object concerned (file and field, node, command) and
what was seen, so a failure can be acted on without re-running with more logs.
"""

from __future__ import annotations

from collections.abc import Sequence


class HarnessError(Exception):
    """Anything the harness itself reports."""


class InputError(HarnessError):
    """Bad input from the user: a topology or SUT file, a CLI argument. Exit status 2."""


class LabError(HarnessError):
    """Building or tearing down the lab failed (namespaces, links, addresses)."""


class DaemonError(HarnessError):
    """A daemon failed to start, died, or refused a command."""

    def __init__(self, node: str, what: str, detail: str = "") -> None:
        self.node = node
        self.what = what
        self.detail = detail
        text = f"{node}: {what}"
        if detail:
            text += "\n" + detail.rstrip()
        super().__init__(text)


class CommandError(HarnessError):
    """A command run for a node exited non-zero."""

    def __init__(self, node: str, argv: Sequence[str], status: int, output: str) -> None:
        self.node = node
        self.argv = tuple(argv)
        self.status = status
        self.output = output
        super().__init__(
            f"{node}: `{' '.join(self.argv)}` exited {status}: {output.strip()[-2000:]}"
        )


class PreconditionFailed(HarnessError):
    """The harness could not decide: a precondition or witness is missing."""


class WitnessUndecided(PreconditionFailed):
    """A failover attempt's sampled witness could not corroborate the wire (a sample with an
    error, or a gap wider than its bound, inside the fault window): that attempt decided
    nothing, and another may be taken (`harness.failover.attempts`)."""


class WaitTimeout(HarnessError):
    """A `wait_until` deadline expired; carries what was last observed."""

    def __init__(self, what: str, elapsed: float, attempts: int, last: object) -> None:
        self.what = what
        self.elapsed = elapsed
        self.attempts = attempts
        self.last = last
        seen = str(last)
        if len(seen) > 4000:  # a whole log is no message: its end is what matters
            seen = f"...{seen[-4000:]}"
        super().__init__(
            f"timed out after {elapsed:.2f} s ({attempts} attempts) waiting for {what}; "
            f"last seen: {seen}"
        )
