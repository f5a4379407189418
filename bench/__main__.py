"""``python -m bench``: run every benchmark (see bench/README.md)."""

from bench.run_all import main

main()
