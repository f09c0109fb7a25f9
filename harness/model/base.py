"""Shared building blocks of the models: strict frozen base class and domain types."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints


class Frozen(BaseModel):
    """Immutable model that rejects unknown fields (a typo is an error, not a silent default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Family(StrEnum):
    """Address families a session can carry (RFC 4760 AFI/SAFI pairs the harness speaks)."""

    IPV4_UNICAST = "ipv4-unicast"
    IPV6_UNICAST = "ipv6-unicast"
    L2VPN_EVPN = "l2vpn-evpn"


Asn = Annotated[
    StrictInt, Field(ge=1, le=4_294_967_295, description="4-octet AS number (RFC 6793)")
]
Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,19}$"),
    Field(description="lower-case letters, digits and '-', starting with a letter, at most 20"),
]
Mac = Annotated[
    str,
    StringConstraints(to_lower=True, pattern=r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$"),
    Field(description="MAC address like 02:00:00:00:01:01"),
]
