"""Path attribute type codes and flag bits (RFC 4271 §4.3, §5; RFC 4760; RFC 4456; RFC 8092).
Standard library only: the harness's codec (`harness.bgp.attributes`) and its own RR's process
(`harness.daemons.update_errors`) read the same numbers."""

from __future__ import annotations

ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF = 1, 2, 3, 4, 5
ATOMIC_AGGREGATE, AGGREGATOR = 6, 7  # RFC 4271 §5.1.6, §5.1.7
COMMUNITIES, ORIGINATOR_ID, CLUSTER_LIST = 8, 9, 10
MP_REACH_NLRI, MP_UNREACH_NLRI, EXTENDED_COMMUNITIES = 14, 15, 16
AS4_PATH, AS4_AGGREGATOR = 17, 18  # RFC 6793 §3
PMSI_TUNNEL = 22
LARGE_COMMUNITIES = 32  # RFC 8092 §2
OPTIONAL, TRANSITIVE, PARTIAL, EXTENDED_LENGTH = 0x80, 0x40, 0x20, 0x10
