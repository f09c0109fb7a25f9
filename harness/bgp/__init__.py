"""BGP on the wire, the harness's own codec; it imports nothing from the observers.

- `names`: canonical readable forms shared with the observers (EVPN keys, extended communities,
  AS_PATH segment types, AGGREGATOR)
- `communities`: COMMUNITIES, extended and large communities, text to octets and back
- `stream`: the header, each session's maximum message size (RFC 8654), a byte stream split
  into messages; standard library only (the speaker's process imports it)
- `framing`: scapy's BGP layers (4-octet AS), families, whole messages built within the maximum
- `session`: OPEN, KEEPALIVE, NOTIFICATION
- `evpn`: EVPN NLRI (route types 2, 3, 5) and route distinguishers
- `nlri`: the NLRI of each family (IP prefixes; EVPN through `evpn`)
- `attributes`: path attributes (`Attributes`), MP_REACH / MP_UNREACH
- `update`: UPDATE built (`build_update`) and decoded (`parse_update`)
"""
