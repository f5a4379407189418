"""Local stand-ins for the services connectors talk to (Nuntiq, CloudBlue Connect, Codat Files).

Each is a real HTTP server on loopback with a fault plan, so the real SDKs and the
local runtime exercise the same code paths they do in production.
"""
