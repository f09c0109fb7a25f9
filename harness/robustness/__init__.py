"""Robustness: how a route reflector handles malformed UPDATEs (RFC 7606, RFC 4271 §6, RFC 8654).

- `raw`: an UPDATE as editable fields (lengths, flags, type codes, NLRI bytes), from valid parts;
- `cases`: the suite's cases as data (what is sent, the RFC section, the action it asks for);
- `invariants`: what must hold after every malformed message (the RR alive with the same PID,
  no crash record, every other session up, nothing malformed reflected);
- `probe`: one case sent and its consequences observed (shared by the suite and the fuzzer);
- `fuzz`, `fuzz_run`: `rr-harness fuzz`, seeded mutations of valid UPDATEs.
"""
