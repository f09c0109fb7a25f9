"""BGP on the wire, the harness's own codec; it imports nothing from the observers.

- `names`: canonical readable forms shared with the observers (EVPN keys, extended communities,
  AS_PATH segment types, AGGREGATOR)
- `communities`: COMMUNITIES, extended and large communities, text to octets and back
- `framing`: scapy's BGP layers (4-octet AS), header, families, whole messages, stream splitting
- `session`: OPEN, KEEPALIVE, NOTIFICATION
- `evpn`: EVPN NLRI (route types 2, 3, 5) and route distinguishers
- `nlri`: the NLRI of each family (IP prefixes; EVPN through `evpn`)
- `attributes`: path attributes (`Attributes`), MP_REACH / MP_UNREACH
- `update`: UPDATE built (`build_update`) and decoded (`parse_update`)
"""
