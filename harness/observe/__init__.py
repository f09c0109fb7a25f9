"""Observation: FRR and ExaBGP output turned into `Route` records, and deadline-bound waits."""
