"""The netns backend: every pod is a Linux network namespace running real daemons.

`lab` (the running lab and the backend), `fabric` (namespaces, bridges, veths, VXLAN over
netlink), `pods` (the RR Deployment, the kubelet's probe, reschedules), `anycast` (meshrr's
MetalLB part), `probe` (sockets inside a namespace), `cleanup` (what a killed run left).
"""
