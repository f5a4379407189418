"""A local CloudBlue Connect API (``/public/v1``) for tests, the demo and benchmarks."""
