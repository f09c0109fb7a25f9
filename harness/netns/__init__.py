"""Linux network namespaces as pods: the netns backend's plumbing (pyroute2 only)."""
