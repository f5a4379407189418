"""Local implementation of the Nuntiq connector framework's ``lib`` package.

Connectors import ``lib.delta``, ``lib.objects.*`` and ``lib.api_client`` exactly as
they do in production; here those talk HTTP to the sandbox Nuntiq service (or any
server that speaks the same customer API), so a connector runs unchanged locally.
"""
