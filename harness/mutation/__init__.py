"""Proof that every check can fail: `catalogue` (broken SUT variants, each one named edit of a
profile) and `runner` (`rr-harness mutate`: the suites against each variant, tabulated)."""
