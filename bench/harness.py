"""Measuring one variant of a benchmark in a fresh child process.

Peak RSS is a per-process high-water mark, so two variants measured in the same
process would contaminate each other (the second can never report less than the
first). Every measurement therefore runs ``python -m bench.harness <module:function>
'<json kwargs>'`` in a new interpreter: the child imports the variant's module,
records its resident size after the imports (the interpreter's own floor), calls
the function, and prints one JSON line with the function's result plus
``peak_rss_mb`` (the child's own high-water mark, see :func:`peak_rss_mb`) and ``rss_before_mb``.

The variant function times its own work (``seconds``) so interpreter start-up and
imports are not part of the wall time. The sandbox services a variant talks to run
in their own processes (started by the caller), so they never share the child's GIL
or count towards its memory.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class VariantFailed(RuntimeError):
    """The child process exited without a result (its stderr tail is in the message)."""


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``, not ``ru_maxrss``: the kernel
    carries ``ru_maxrss`` over ``execve``, so a child started from a big parent would
    report at least the parent's size. ``VmHWM`` belongs to the address space, which
    ``execve`` replaces. Elsewhere ``ru_maxrss`` is the best there is.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return round(peak / scale, 1)


def _resolve(ref: str) -> Callable[..., dict[str, Any]]:
    module_name, _, attr = ref.partition(":")
    func: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module_name), attr)
    return func


def measure(ref: str, timeout: float = 1800, **kwargs: Any) -> dict[str, Any]:
    """Run ``ref`` (``"bench.module:function"``) with ``kwargs`` in a fresh child; its result."""
    cmd = [sys.executable, "-m", "bench.harness", ref, json.dumps(kwargs)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=env, check=False
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    raise VariantFailed(f"{ref} exited with {proc.returncode} and no result:\n{tail}")


def child_main(argv: Sequence[str]) -> None:
    ref = argv[0]
    kwargs = json.loads(argv[1]) if len(argv) > 1 else {}
    func = _resolve(ref)
    before = peak_rss_mb()
    result = dict(func(**kwargs))
    result["rss_before_mb"] = before
    result["peak_rss_mb"] = peak_rss_mb()
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


# -- reporting helpers -----------------------------------------------------------------------


def machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def now_utc() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A Markdown table: ``columns`` are (key, header)."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.2f}"
        if isinstance(value, list):
            return " / ".join(cell(v) for v in value)
        return str(value)

    lines = [
        "| " + " | ".join(h for _, h in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(cell(row.get(k)) for k, _ in columns) + " |")
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


if __name__ == "__main__":
    child_main(sys.argv[1:])
