"""The validated, frozen description of a run: topology, SUT profile, and the plan joining them."""
