"""Failover on pod reschedule (issue 4): continuous sampling of every client's routes, the
measures taken from those samples, their statistics over repeats, and the timeline figure."""
