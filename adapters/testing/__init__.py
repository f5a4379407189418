"""The test kit connector projects share (installed with ``nuntiq-adapters[testing]``).

* :class:`RecordingLogger` and :class:`FakeContext`: a job context without a framework,
  whose logger keeps every call for assertions;
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
from adapters.testing.logger import LogRecord, RecordingLogger
from adapters.testing.scrub import REDACTED, SecretScrubber

__all__ = [
    "REDACTED",
    "FakeClock",
    "FakeContext",
    "LogRecord",
    "RecordingLogger",
    "SecretScrubber",
    "cassette_config",
]
