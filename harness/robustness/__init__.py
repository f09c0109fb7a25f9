"""Robustness: how a route reflector handles malformed UPDATEs (RFC 7606, RFC 4271 §6, RFC 8654).

- `raw`: an UPDATE as editable fields (lengths, flags, type codes, NLRI bytes), from valid parts;
- `cases`: the suite's cases as data (what is sent, the RFC section, the action it asks for);
- `invariants`: what must hold after every malformed message (the RR alive with the same PID,
  no crash record, every other session the same session);
- `probe`, `verdict`: one case sent and what followed, then every consequence judged (shared
  by `suites/test_robustness.py`);
- `fuzz`, `fuzz_run`, `fuzz_files`: `rr-harness fuzz`, seeded mutations of valid UPDATEs, the
  invariants after each, findings saved and replayed.
"""
