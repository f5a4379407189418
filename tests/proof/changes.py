"""Source changes between scheduled runs, through the sandboxes' admin endpoints.

Connect: some listings are updated and new ones appear, new billing batches (with
files) are created. Acme: the service moves to the next of its four variants, some
suppliers are renamed (their ``updated_at`` moves to now) and new ones appear. Codat:
companies upload files (``uploaded`` sometimes zone-less, as Codat sends it). Nuntiq:
new source documents appear for the push (now and then of a type Codat refuses).
Everything is drawn from the caller's seeded ``random.Random``.
"""

from __future__ import annotations

import base64
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from lib.api_client import ApiError
from tests.proof.env import ACME_VARIANTS, CODAT_COMPANY, CODAT_SMALL_COMPANY, ProofEnv, acme_variant


def _post(url: str, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{url}{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


class SourceChanger:
    """Applies one round of changes; counts what it did."""

    def __init__(self, env: ProofEnv, rng: random.Random) -> None:
        self.env = env
        self.rng = rng
        self.serial = 0
        #: which of :data:`ACME_VARIANTS` the Acme sandbox serves next (they take turns)
        self.acme_turn = ACME_VARIANTS.index(acme_variant(env.seed))
        self.done: Counter[str] = Counter()

    def connect(self) -> None:
        result = _post(
            self.env.connect.url,
            "/_sandbox/connect/mutate",
            {
                "collection": "listings",
                "fraction": self.rng.choice([0.05, 0.1, 0.2]),
                "add": self.rng.randint(0, 2),
            },
        )
        self.done["listings updated"] += len(result["updated"])
        self.done["listings added"] += len(result["added"])
        if self.rng.random() < 0.6:
            result = _post(
                self.env.connect.url, "/_sandbox/connect/mutate", {"collection": "billing_batches", "add": 1}
            )
            self.done["billing batches added"] += len(result["added"])

    def acme(self) -> None:
        url = self.env.acme.url
        self.acme_turn += 1
        variant = ACME_VARIANTS[self.acme_turn % len(ACME_VARIANTS)]
        response = httpx.put(f"{url}/_sandbox/acme/variant", json=variant, timeout=60)
        response.raise_for_status()
        self.done["acme variant switches"] += 1
        truth = httpx.get(f"{url}/_sandbox/acme/suppliers", timeout=60)
        truth.raise_for_status()
        numbers = [r["number"] for r in truth.json()["suppliers"]]
        touched = self.rng.sample(numbers, k=min(len(numbers), self.rng.randint(1, 3)))
        self.serial += 1
        moved = _post(url, "/_sandbox/acme/touch", {"numbers": touched, "rename": f" r{self.serial}"})
        self.done["acme suppliers renamed"] += len(moved)
        if self.rng.random() < 0.5:
            number = f"ACME-9{self.serial:04d}"
            record = {
                "number": number,
                "name": f"New supplier {self.serial}",
                "active": True,
                "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "address": {"street": f"{self.serial} New Road", "city": "Lyon", "country": "FR"},
            }
            _post(url, "/_sandbox/acme/add", {"records": [record]})
            self.done["acme suppliers added"] += 1

    def codat_file(
        self, company: str | None = None, *, name: str | None = None, uploaded: str | None = None
    ) -> str:
        self.serial += 1
        company = company or self.rng.choice([CODAT_COMPANY, CODAT_SMALL_COMPANY])
        ext = self.rng.choice(["pdf", "csv", "xlsx", "png"])
        name = name or f"proof-upload-{self.serial:04d}.{ext}"
        now = datetime.now(UTC)
        if uploaded is None:
            zoneless = self.rng.random() < 0.4
            if zoneless:
                # whole seconds, rounded up: truncating could put the file a fraction of a
                # second before a millisecond cursor taken in the same second
                now = now.replace(microsecond=0) + timedelta(seconds=1)
            uploaded = (
                now.strftime("%Y-%m-%dT%H:%M:%S")
                if zoneless
                else now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            )
        content = f"proof file {self.serial} {self.rng.getrandbits(64):016x}\n".encode() * self.rng.randint(
            1, 40
        )
        _post(
            self.env.codat.url,
            f"/_sandbox/codat/companies/{company}/files",
            {
                "fileName": name,
                "uploaded": uploaded,
                "sourceType": self.rng.choice(["Banking", "Accounting", "Other"]),
                "content_b64": base64.b64encode(content).decode(),
            },
        )
        self.done["codat files uploaded"] += 1
        return name

    def codat(self) -> None:
        for _ in range(self.rng.randint(0, 2)):
            self.codat_file()

    def nuntiq_document(
        self, name: str | None = None, content: bytes | None = None, media_type: str = ""
    ) -> Any:
        self.serial += 1
        ext = self.rng.choice(["pdf", "pdf", "docx", "csv", "txt"])
        name = name or f"proof-doc-{self.serial:04d}.{ext}"
        content = content or f"nuntiq document {self.serial} {self.rng.getrandbits(64):016x}\n".encode() * 8
        api = self.env.api()
        try:
            # Injected faults answer before the service does anything, so trying again
            # cannot create a second document.
            for attempt in range(8):
                try:
                    result = api.upload_source_documents(
                        files=[(name, content, media_type or "application/octet-stream")],
                        document_type="proof",
                    )
                    break
                except ApiError as exc:
                    if exc.status_code not in (0, 429, 502, 503) or attempt == 7:
                        raise
        finally:
            api.close()
        self.done["nuntiq documents added"] += 1
        return result

    def nuntiq(self) -> None:
        if self.rng.random() < 0.5:
            self.nuntiq_document()

    def round(self) -> None:
        """One round of changes in every source (faults on the admin endpoints never apply)."""
        self.connect()
        self.acme()
        self.codat()
        self.nuntiq()
