"""The crafted-UPDATE speaker's process: keeps real BGP sessions, sends what it is told.

Run as `python -m harness.daemons.speaker_process STATE_DIR [STATE_DIR ...]`: one process serves
one speaker per state directory (issue 18: one process for every crafted speaker of a lab, not
one interpreter each). Each reads `STATE_DIR/speaker.json`, which carries each session's OPEN
already encoded and, optionally, the `namespace` its sessions live in: each connection's socket
is made in that network namespace (`harness.runtime.netns_socket`), so the process itself may
run anywhere; without it, in the process's own. The process is stdlib only (no scapy import;
`harness.bgp.stream` is stdlib too), so it starts in a fraction of a second.
For each configured session it connects to the peer (TCP 179), sends
OPEN, answers with KEEPALIVE, keeps the hold timer (RFC 4271 §4.2, §4.4, §8), and reconnects
after `connect_retry` seconds when the session ends. Each connection's maximum message size is
4096 octets until both OPENs are known, then 65535 if both carry the Extended Message capability
(RFC 8654 §4, `harness.bgp.stream.negotiated_max_size`): a longer message from the peer is a
Message Header Error, Bad Message Length (1/2, RFC 4271 §6.1), and the speaker refuses to send
one unless told to (`oversize`, below).

What happens on each connection attempt is appended to `STATE_DIR/received.jsonl`, one JSON
object a line, each `{"peer": ADDR, "kind": KIND, ..., "time": UNIX_SECONDS}`; decoding is the
harness's job (`harness.observe.speaker`, `harness.observe.refusals`):
- `{"kind": "state", "state": "connected"}`: the TCP connection is up;
- `{"kind": "sent", "message": "open"|"notification", "hex"}`: the speaker sent its OPEN, or a
  NOTIFICATION of its own (hold timer expired, a malformed header from the peer);
- `{"kind": "open"|"update"|"notification", "hex"}`: a message received (keepalives are not
  recorded);
- `{"kind": "state", "state": "up", "max_message_size"}`: Established (the peer's KEEPALIVE
  after its OPEN), with the session's maximum message size (65535: extended messages in use);
- `{"kind": "state", "state": "down", "closed_by", "reason"}`: the attempt is over.
  `closed_by` is `"peer"` when the peer ended the connection: EOF, RST, or a NOTIFICATION
  (RFC 4271 §4.5: its sender closes the connection); `"self"` when the speaker did: its hold
  timer expired, the peer's bytes broke framing, an error of its own, shutdown (SIGTERM);
  `null` when no connection was made (nothing listening, unreachable).

`STATE_DIR/api.sock` takes one JSON request per connection, each answered on its own thread:
`{"peer": ADDR, "send": HEX}` sends a whole BGP message on that session and answers `done`;
`{"peer": ADDR, "send_file": PATH}` sends a file of messages (a burst);
`{"peer": ADDR, "reconnect": true}` cuts the ConnectRetry timer of a session that is down short
(the next connection attempt starts at once). A message longer than
the session's maximum (`harness.bgp.stream.size_limit`) is refused unless the request also says
`"oversize": true`: an over-size message is a robustness case of its own. Anything else (not
JSON, not an object, an unknown peer, non-hex data, a request over `MAX_REQUEST` bytes, a
session not Established) is answered `error: ...`, and the process and its sessions live on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from harness.bgp.stream import (
    BAD_MESSAGE_LENGTH,
    HEADER_SIZE,
    KEEPALIVE,
    MAX_MESSAGE_SIZE,
    NOTIFICATION,
    OPEN,
    UPDATE,
    FramingError,
    check_size,
    first_message_end,
    frame,
    negotiated_max_size,
    split_messages,
)
from harness.runtime.netns_socket import socket_in

KINDS = {OPEN: "open", UPDATE: "update", NOTIFICATION: "notification"}
PEER, SELF = "peer", "self"  # who ended a connection
MAX_REQUEST = 1 << 18  # octets: a request line carries at most one message in hex (< 132 KiB)
API_TIMEOUT = 5.0  # seconds a client of the API may take to send its request line
MESSAGE_HEADER_ERROR = 1  # RFC 4271 §4.5


class Ended(Exception):
    """A connection is over, and who ended it (`PEER` or `SELF`)."""

    def __init__(self, by: str, reason: str) -> None:
        super().__init__(reason)
        self.by = by


class RequestError(ValueError):
    """An API request of the wrong shape."""


def header_error(exc: FramingError) -> str:
    """The reason recorded for a peer's bytes that break framing (RFC 4271 §6.1)."""
    if exc.subcode == BAD_MESSAGE_LENGTH:
        return f"bad BGP length {int.from_bytes(exc.data, 'big')} from peer: {exc}"
    return "bad BGP marker from peer"


SO_SNDBUFFORCE = 32  # linux/asm-generic/socket.h (not exported by Python's socket module)


class Recorder:
    """Appends entries to the recording, one line each, whichever thread writes them."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", buffering=1)
        self._lock = threading.Lock()
        self._open: set[str] = set()  # peers with a connection recorded and not yet ended

    def write(self, **entry: Any) -> None:
        entry["time"] = time.time()
        with self._lock:
            self._line(entry)

    def _line(self, entry: dict[str, Any]) -> None:
        if entry["kind"] == "state":
            if entry["state"] == "down":
                self._open.discard(entry["peer"])
            else:
                self._open.add(entry["peer"])
        self._file.write(json.dumps(entry) + "\n")

    def last_words(self, reason: str) -> None:
        """The process is ending: each connection still open is recorded as ended by the
        speaker. The lock is kept, so nothing is recorded after these lines."""
        self._lock.acquire()
        for peer in sorted(self._open):
            entry = {"peer": peer, "kind": "state", "state": "down", "closed_by": SELF}
            self._line(entry | {"reason": reason, "time": time.time()})


@dataclass
class Session:
    peer: str
    local: str
    open_message: bytes
    hold_time: int
    connect_retry: float
    recorder: Recorder
    namespace: str | None = None  # where the session's sockets are made (None: here)
    sock: socket.socket | None = None
    max_size: int = MAX_MESSAGE_SIZE  # this connection's maximum message size (RFC 8654 §4)
    established: threading.Event = field(default_factory=threading.Event)
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    retry_now: threading.Event = field(default_factory=threading.Event)  # cuts the timer short

    def run_forever(self) -> None:
        while True:
            by, reason = self._attempt()  # whatever a peer sends, the session lives on
            self.record("state", state="down", closed_by=by, reason=reason)
            self.retry_now.wait(self.connect_retry)  # ConnectRetry timer (RFC 4271 §8)
            self.retry_now.clear()

    def record(self, kind: str, **entry: Any) -> None:
        self.recorder.write(peer=self.peer, kind=kind, **entry)

    def _attempt(self) -> tuple[str | None, str]:
        """One connection attempt, to its end: who ended it (None: no connection), and why."""
        try:
            sock = self._connect()
        except OSError as exc:
            return None, f"no connection: {exc}"
        self.sock = sock
        self.max_size = MAX_MESSAGE_SIZE  # until both OPENs are known
        try:
            self.record("state", state="connected")
            self._converse(sock)
        except Ended as end:
            return end.by, str(end)
        except (ConnectionResetError, BrokenPipeError) as exc:
            return PEER, str(exc)
        except Exception as exc:  # an error on this side, the speaker's own (hence "self")
            return SELF, str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
        finally:
            self.established.clear()
            self.sock = None
            sock.close()

    def _connect(self) -> socket.socket:
        """A TCP connection to the peer's port 179 from the session's local address, made in
        the session's namespace."""
        family = socket.AF_INET6 if ":" in self.peer else socket.AF_INET
        if self.namespace is None:
            sock = socket.socket(family, socket.SOCK_STREAM)
        else:
            sock = socket_in(self.namespace, family)
        try:
            sock.settimeout(5)
            sock.bind((self.local, 0))
            sock.connect((self.peer, 179))
        except OSError:
            sock.close()
            raise
        return sock

    def _converse(self, sock: socket.socket) -> NoReturn:
        """OPEN, KEEPALIVE, hold timer (RFC 4271 §4.2, §4.4, §8), until the connection ends."""
        self.send(self.open_message)
        self.record("sent", message="open", hex=self.open_message.hex())
        hold = float(self.hold_time)
        sock.settimeout(hold or None)
        buffer = b""
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                self._notify(4, 0)  # Hold Timer Expired (RFC 4271 §6.5)
                raise Ended(SELF, "hold timer expired") from None
            if not chunk:
                raise Ended(PEER, "peer closed the connection")
            buffer += chunk
            while True:  # one message at a time: the peer's OPEN sets the maximum for the rest
                try:
                    messages, _ = split_messages(buffer[: first_message_end(buffer)], self.max_size)
                except FramingError as exc:  # Message Header Error (RFC 4271 §6.1)
                    self._notify(MESSAGE_HEADER_ERROR, exc.subcode, exc.data)
                    raise Ended(SELF, header_error(exc)) from None
                if not messages:
                    break
                buffer = buffer[len(messages[0][1]) :]
                hold = self._receive(sock, *messages[0], hold)

    def _receive(self, sock: socket.socket, kind: int, message: bytes, hold: float) -> float:
        """One message from the peer (RFC 4271 §8): the hold time as it now stands."""
        if kind == OPEN:
            hold = min(hold, float(int.from_bytes(message[22:24], "big")))
            self.max_size = negotiated_max_size(self.open_message, message) or MAX_MESSAGE_SIZE
            sock.settimeout(hold if hold else None)
            self.send(frame(KEEPALIVE))
            if hold:
                self._start_keepalives(hold / 3)
        elif kind == KEEPALIVE and not self.established.is_set():
            self.established.set()
            self.record("state", state="up", max_message_size=self.max_size)
        if kind in KINDS:
            self.record(KINDS[kind], hex=message.hex())
        if kind == NOTIFICATION:  # its sender closes the connection (§4.5)
            code = "/".join(str(b) for b in message[HEADER_SIZE : HEADER_SIZE + 2]) or "?"
            raise Ended(PEER, f"notification {code} received")
        return hold

    def _notify(self, code: int, subcode: int, data: bytes = b"") -> None:
        """Send a NOTIFICATION of our own, if the connection still takes it, and record it."""
        message = frame(NOTIFICATION, bytes([code, subcode]) + data)
        with contextlib.suppress(OSError):
            self.send(message)
            self.record("sent", message="notification", hex=message.hex())

    def _start_keepalives(self, every: float) -> None:
        sock = self.sock

        def loop() -> None:
            while not threading.Event().wait(every):
                try:
                    self.send(frame(KEEPALIVE), on=sock)
                except OSError:
                    return  # this connection is over; a new one starts its own keepalives

        threading.Thread(target=loop, daemon=True).start()

    def send_burst(self, data: bytes) -> str:
        """Send many messages at once, after making the socket's send buffer hold them all
        (SO_SNDBUFFORCE, root only), so the copy into the kernel is all the generator does and
        the peer reads at its own pace. Replies `done FIRST LAST`: wall-clock times around it."""
        with self.send_lock:
            if self.sock is None:
                raise OSError("no connection")
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, len(data) + (1 << 20))
            first = time.time()
            self.sock.sendall(data)
            last = time.time()
        return f"done {first:.6f} {last:.6f}"

    def send(self, message: bytes, on: socket.socket | None = None) -> None:
        """Send on the current connection (or only on `on`, if that is still the current one:
        a keepalive timer of an old connection never writes into a newer one)."""
        with self.send_lock:
            if self.sock is None or (on is not None and self.sock is not on):
                raise OSError("no connection")
            self.sock.sendall(message)


def handle(sessions: dict[str, Session], line: bytes) -> str:
    """Carry out one API request line; its reply (a request of the wrong shape raises)."""
    try:
        request = json.loads(line)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        raise RequestError(f"not a JSON request: {type(exc).__name__}: {exc}") from None
    if not isinstance(request, dict):
        raise RequestError(f"a request is a JSON object, not {type(request).__name__}")
    peer = request.get("peer")
    session = sessions.get(peer) if isinstance(peer, str) else None
    if session is None:
        raise RequestError(f"no session to {peer!r} (sessions: {', '.join(sessions)})")
    oversize = request.get("oversize", False)
    if not isinstance(oversize, bool):
        raise RequestError(f"`oversize` is true or false, not {oversize!r}")
    if request.get("reconnect") is True:  # connect now, not after the ConnectRetry timer
        if session.established.is_set():
            raise OSError(f"session to {peer} is Established: nothing to reconnect")
        session.retry_now.set()
        return "done"
    message, send_file = _what_to_send(request)
    if not session.established.is_set():
        raise OSError(f"session to {peer} is not Established")
    if send_file is not None:  # a burst: bytes encoded beforehand, timed here
        data = Path(send_file).read_bytes()
        if not oversize:
            _within(data, session.max_size)
        return session.send_burst(data)
    if not oversize:
        _within(message, session.max_size, whole=True)
    session.send(message)
    return "done"


def _what_to_send(request: dict[str, Any]) -> tuple[bytes, str | None]:
    """The message of `send` (hex), or the path of `send_file` (then the message is empty)."""
    send, send_file = request.get("send"), request.get("send_file")
    if send_file is not None:
        if not isinstance(send_file, str):
            raise RequestError(f"`send_file` is a path, not {type(send_file).__name__}")
        return b"", send_file
    if send is None:
        raise RequestError("a request says what to send: `send` (hex) or `send_file` (a path)")
    if not isinstance(send, str):
        raise RequestError(f"`send` is hex (a string), not {type(send).__name__}")
    try:
        message = bytes.fromhex(send)
    except ValueError as exc:
        raise RequestError(f"`send` is not hex: {exc}") from None
    if not message:
        raise RequestError("`send` is empty")
    return message, None


def _within(data: bytes, max_size: int, whole: bool = False) -> None:
    """RequestError when a message (`whole`: `data` is one message) or any message of a burst
    is longer than the session's maximum (RFC 8654 §4); a burst must be whole messages."""
    try:
        if whole:
            check_size(data, max_size)
            return
        _, rest = split_messages(data, max_size)
    except ValueError as exc:
        raise RequestError(f"{exc}; say `oversize` to send it anyway") from None
    if rest:
        raise RequestError(f"the burst ends inside a message ({len(rest)} octets left over)")


def answer(conn: socket.socket, sessions: dict[str, Session]) -> None:
    """One API connection: its request line answered, whatever it holds; only it can fail."""
    with conn:
        try:
            conn.settimeout(API_TIMEOUT)
            with conn.makefile("rb") as stream:
                line = stream.readline(MAX_REQUEST + 1)
            if len(line) > MAX_REQUEST:
                raise RequestError(f"request longer than {MAX_REQUEST} octets")
            reply = handle(sessions, line)
        except (OSError, ValueError) as exc:  # ValueError: not JSON, not UTF-8, not hex, shape
            reply = f"error: {exc}"
        except Exception as exc:  # anything else a request can provoke (deep nesting, ...)
            reply = f"error: {type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):  # a caller gone before the answer ends nothing
            conn.sendall(reply.encode() + b"\n")


def speaker(state_dir: Path) -> tuple[Recorder, dict[str, Session]]:
    """One speaker of the process: its recording and its sessions, from its state directory."""
    config = json.loads((state_dir / "speaker.json").read_text())
    recorder = Recorder(state_dir / "received.jsonl")
    sessions = {
        s["peer"]: Session(
            peer=s["peer"],
            local=s["local"],
            open_message=bytes.fromhex(s["open"]),
            hold_time=int(config["hold_time"]),
            connect_retry=float(config["connect_retry"]),
            recorder=recorder,
            namespace=config.get("namespace"),
        )
        for s in config["sessions"]
    }
    return recorder, sessions


def listen(state_dir: Path) -> socket.socket:
    """The speaker's API socket, `STATE_DIR/api.sock` (its file says the speaker is up)."""
    api = state_dir / "api.sock"
    api.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(api))
    server.listen(16)
    return server


def accept(server: socket.socket, sessions: dict[str, Session]) -> None:
    """The speaker's API: each request answered on its own thread."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:  # out of descriptors, say: serve the next one
            threading.Event().wait(0.1)
            continue
        try:
            threading.Thread(target=answer, args=(conn, sessions), daemon=True).start()
        except RuntimeError:  # out of threads: this one goes unanswered, the next is served
            conn.close()


def serve(*state_dirs: Path) -> int:
    """Every speaker of `state_dirs`, until SIGTERM: then each open connection is recorded as
    ended by its speaker."""
    speakers = [speaker(d) for d in state_dirs]

    def shut_down(signum: int, _frame: object) -> None:
        for recorder, _ in speakers:
            recorder.last_words(f"shutdown ({signal.Signals(signum).name})")
        os._exit(0)

    signal.signal(signal.SIGTERM, shut_down)
    for directory, (_, sessions) in zip(state_dirs, speakers, strict=True):
        for session in sessions.values():
            threading.Thread(target=session.run_forever, daemon=True).start()
        server = listen(directory)  # here, not in its thread: a failure ends the process
        threading.Thread(target=accept, args=(server, sessions), daemon=True).start()
    while True:  # the threads do the work; SIGTERM ends the process
        signal.pause()


if __name__ == "__main__":
    sys.exit(serve(*(Path(arg) for arg in sys.argv[1:])))
