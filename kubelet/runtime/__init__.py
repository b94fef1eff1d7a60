"""Simulated container runtime: a per-pod in-memory filesystem and the small shell that runs commands.
Nothing here starts a process; the kubelet drives these as asyncio tasks."""
