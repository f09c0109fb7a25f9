"""Run bookkeeping: run ids and tags, processes started by PID, and cleanup of leftovers."""
