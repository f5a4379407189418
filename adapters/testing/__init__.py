"""The test kit connector projects share (installed with ``nuntiq-adapters[testing]``).

* :class:`RecordingLogger` and :class:`FakeContext`: a job context without a framework,
  whose logger keeps every call for assertions;
* :class:`InMemoryDelta` and :class:`ListSink`: ``delta_run`` and a sink in memory, so a
  connector's sync runs end to end in a test;
* :class:`FakeClock`: a ``clock``/``sleep`` pair, so retry tests never really wait;
* :class:`SecretScrubber` and :func:`cassette_config`: VCR settings that keep secrets out
  of cassettes (request headers, query strings, request and response bodies);
* :mod:`adapters.testing.plugin`: the pytest plugin (registered as a ``pytest11`` entry
  point) that offers all of the above as fixtures and replays retries without sleeping.

Nothing here imports pytest, vcrpy or pytest-recording at import time, so the package
itself never needs the extra.
"""

from adapters.testing.cassettes import cassette_config
from adapters.testing.clock import FakeClock
from adapters.testing.context import FakeContext
from adapters.testing.delta import InMemoryDelta, InMemoryRun
from adapters.testing.logger import LogRecord, RecordingLogger
from adapters.testing.nuntiq import InMemoryNuntiq
from adapters.testing.scrub import REDACTED, SecretScrubber
from adapters.testing.sinks import ListSink

__all__ = [
    "REDACTED",
    "FakeClock",
    "FakeContext",
    "InMemoryDelta",
    "InMemoryNuntiq",
    "InMemoryRun",
    "ListSink",
    "LogRecord",
    "RecordingLogger",
    "SecretScrubber",
    "cassette_config",
]
