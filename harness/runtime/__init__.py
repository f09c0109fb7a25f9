"""Run bookkeeping: run ids and tags, processes started by PID, signals during teardown."""
