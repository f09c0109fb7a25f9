"""Implementations of the route reflector / route server the SUT runs (sut.yaml
`implementation`): how a pod's daemon is created and how its routes and sessions are read."""
