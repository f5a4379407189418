"""Sandbox of the Nuntiq customer API (see API.md for the endpoints it assumes)."""
