"""Every shipped connector against one combination of the Nuntiq sandbox's shape variants.

Shared by the sampled test in ``make test`` and the full cross product in
``make variants-nuntiq``. One proof environment (Nuntiq, Connect and Codat sandboxes)
serves many combinations: before each, every source gains something new (listings and
a billing batch on Connect, a file on Codat, a document on Nuntiq for the push), then
the four connectors run under the combination, run again idle, and what landed is
compared with the sources' ground truth (read with the variants back at their
defaults, so the check does not depend on the code under test).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from sandbox.nuntiq.variants import SHAPE_OPTIONS, Variants
from tests.proof.changes import SourceChanger
from tests.proof.env import CONNECTORS, PROOF_RUN, ProofEnv
from tests.proof.truth import compare

#: what the Nuntiq service counts as written (an idle rerun must add to none of these)
WRITES = ("source_documents_created", "suppliers_changed")
DEFAULT_SHAPES = Variants().shapes()


@dataclass
class VariantRunner:
    env: ProofEnv
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def __post_init__(self) -> None:
        self.changer = SourceChanger(self.env, self.rng)
        self.failed = False

    def check(self, variants: Variants) -> None:
        """Raises AssertionError naming the combination and what went wrong."""
        if self.failed:  # a failed run may still hold its lease: let it lapse, or the next looks busy
            time.sleep(PROOF_RUN["lease_ttl_seconds"] + 1)
            self.failed = False
        self.failed = True
        self._check(variants)
        self.failed = False

    def _check(self, variants: Variants) -> None:
        label = variants.label()
        self.changer.connect()
        self.changer.codat_file()
        self.changer.nuntiq_document()
        self.env.set_variants(**variants.shapes())
        try:
            for connector in CONNECTORS:
                record = self.env.run(connector, label=label)
                assert record.ok and not record.busy, f"{label}: {connector} failed: {record.report.error}"
            before = self.env.counters()
            for connector in CONNECTORS:
                record = self.env.run(connector, label=f"{label} idle")
                assert record.ok, f"{label}: idle {connector} failed: {record.report.error}"
                result = record.report.result if connector.startswith("codat_push") else None
                uploaded = (result or {}).get("uploaded", 0)
                assert not uploaded, f"{label}: the idle push uploaded {uploaded}"
            after = self.env.counters()
            grew = {k: after.get(k, 0) - before.get(k, 0) for k in WRITES}
            grew = {k: n for k, n in grew.items() if n}
            assert not grew, f"{label}: the idle reruns wrote {grew}"
        finally:
            self.env.set_variants(**DEFAULT_SHAPES)
        truth = compare(self.env)
        assert truth.clean, f"{label}: {truth.summary()}; " + "; ".join(str(f) for f in truth.findings[:5])


def one_at_a_time() -> list[Variants]:
    """Each non-default value of each option, the other options at their defaults."""
    return [
        Variants(**{name: value})  # type: ignore[arg-type]
        for name, values in SHAPE_OPTIONS.items()
        for value in values[1:]
    ]
