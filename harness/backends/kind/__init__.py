"""The kind backend: the same plan, as Kubernetes objects on a real cluster (kind, or any
cluster through a kubeconfig). This machine has no container engine, so what is here is
verified statically (manifests against the Kubernetes OpenAPI schemas, the kind config against
a model of kind's schema) and runs for real only in users' CI."""
