"""`rr-harness bench`: how fast the route reflector reflects, how failover grows with the table,
memory per route, and the harness's own overhead, as figures with units."""
