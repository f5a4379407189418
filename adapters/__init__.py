"""nuntiq-adapters: source adapters for connectors in the Nuntiq connector framework.

Every source implements one verb, ``fetch_since(since)`` (see :mod:`adapters.protocol`);
the sync driver, the retry policy and the sinks are shared by all of them.
"""

__version__ = "0.1.0"
