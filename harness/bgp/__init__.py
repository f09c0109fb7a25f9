"""BGP on the wire: EVPN NLRI codec and whole BGP messages (OPEN, UPDATE, ...)."""
