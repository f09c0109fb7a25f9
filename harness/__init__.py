"""rr-harness: BGP conformance harness for route reflectors that run inside Kubernetes."""

__version__ = "0.1.0"
