"""The Kubernetes side of the system under test, backend-neutral: pods, and the discovery loop
that points router pods at the ready route reflector pods."""
