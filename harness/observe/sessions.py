"""One BGP session's life as a daemon reports it: enough to tell, from two looks, whether it
is still the same Established session or went down and came back in between (a flap).

The surest witness is the TCP connection: a session that came back is a new connection, with
a new port on the side that connected (measured: FRR 8.4 shows `portLocal`/`portForeign` for
each neighbor). Besides, a configured neighbor keeps its counters across sessions (connections
established and dropped move on a flap), and within one session's life its uptime and message
counts never go back; a dynamic neighbor (listen range) is made anew each time, so its counters
start again and only the connection and those tell.
"""

from __future__ import annotations

from dataclasses import dataclass

UPTIME_RESOLUTION_MS = 1000  # FRR reports uptime in whole seconds


@dataclass(frozen=True)
class SessionLife:
    state: str  # FRR's words: Established, Active, ...
    uptime_ms: int  # how long it has been Established
    established: int  # connections established and dropped with this neighbor
    dropped: int
    received: int  # messages received and sent in this neighbor's life
    sent: int
    connection: tuple[int, int] | None = None  # (local port, remote port) of its TCP connection
    updates: int = 0  # UPDATEs received in this neighbor's life (processed, once counted)

    def same_session_as(self, before: SessionLife) -> bool:
        """Still the Established session `before` was: nothing a flap moves has moved."""
        return (
            self.state == before.state == "Established"
            and (self.established, self.dropped) == (before.established, before.dropped)
            and self.uptime_ms + UPTIME_RESOLUTION_MS >= before.uptime_ms
            and self.received >= before.received
            and self.sent >= before.sent
            and self.updates >= before.updates
            and (
                None in (self.connection, before.connection) or self.connection == before.connection
            )
        )

    def __str__(self) -> str:
        return (
            f"{self.state}, up {self.uptime_ms / 1000:.0f} s, {self.established} established / "
            f"{self.dropped} dropped, {self.received} messages received / {self.sent} sent"
            + (f", ports {self.connection[0]}-{self.connection[1]}" if self.connection else "")
        )
