"""A fuzz finding on disk, replayable: the message in hex (with what it was, as comments) and as
a pcap (one TCP segment from the client to the RR's port 179, for Wireshark), and the run's
summary in JSON.

`load` reads either file back into the messages to send: a hex file's lines (comments `#`),
or a pcap's TCP payloads towards port 179, cut into BGP messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.bgp.stream import MAX_EXTENDED_MESSAGE_SIZE, FramingError, split_messages
from harness.errors import InputError

BGP_PORT = 179


@dataclass
class Finding:
    """One message that broke an invariant, where it was saved."""

    index: int
    family: str
    mutations: tuple[str, ...]
    outcome: str
    problems: list[str]
    files: list[str] = field(default_factory=list)


def save(
    directory: Path,
    name: str,
    message: bytes,
    comments: list[str],
    *,
    source: str,
    destination: str,
) -> list[Path]:
    """`<name>.hex` and `<name>.pcap` in `directory`; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    text = directory / f"{name}.hex"
    lines = [" / ".join(c.splitlines()) for c in comments]  # one line each: `load` reads hex
    text.write_text("".join(f"# {line}\n" for line in lines) + message.hex() + "\n")
    pcap = directory / f"{name}.pcap"
    write_pcap(pcap, message, source, destination)
    return [text, pcap]


def write_pcap(path: Path, message: bytes, source: str, destination: str) -> None:
    """The message as the client sent it: one TCP segment to the RR's BGP port."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    packet = (
        Ether()
        / IP(src=source, dst=destination)
        / TCP(sport=40179, dport=BGP_PORT, flags="PA", seq=1, ack=1)
        / Raw(load=message)
    )
    wrpcap(str(path), [packet])


def load(path: Path) -> list[bytes]:
    """The messages of a saved finding: each hex line of a `.hex` file as it is (a finding may
    break framing on purpose), or a `.pcap`'s payloads towards port 179 cut into BGP messages
    (whole, when they do not frame); InputError naming `--replay`."""
    if not path.is_file():
        raise InputError(f"--replay {path}: no such file")
    if path.suffix == ".pcap":
        stream = _pcap_stream(path)
        try:
            messages, rest = split_messages(stream, MAX_EXTENDED_MESSAGE_SIZE)
        except FramingError:
            return [stream] if stream else _none(path)
        return [m for _, m in messages] + ([rest] if rest else []) or _none(path)
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
        found = [bytes.fromhex(line) for line in lines if line and not line.startswith("#")]
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"--replay {path}: not hex lines ({exc})") from None
    return [m for m in found if m] or _none(path)


def _none(path: Path) -> list[bytes]:
    raise InputError(f"--replay {path}: holds no message")


def _pcap_stream(path: Path) -> bytes:
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    try:
        packets = rdpcap(str(path))
    except Exception as exc:  # scapy raises its own Scapy_Exception, or OSError
        raise InputError(f"--replay {path}: not a pcap file ({exc})") from None
    return b"".join(bytes(p[TCP].payload) for p in packets if TCP in p and p[TCP].dport == BGP_PORT)


def write_summary(path: Path, summary: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")
    return path
