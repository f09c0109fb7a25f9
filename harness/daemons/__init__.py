"""The daemons of a lab: FRR instances, ExaBGP peers, and the bridge to ExaBGP's process API."""
