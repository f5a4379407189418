"""Deterministic seed data for the Codat Files sandbox.

The generator spreads N files over D days per company and, on purpose, produces
what makes Codat awkward: some files share a ``fileName`` with another upload of
the same day, some ``uploaded`` values carry no zone, some carry a non-UTC offset.
Parameters live in ``fixtures/codat/seed.json``; any of them can be overridden.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

SEED_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "codat" / "seed.json"


@dataclass
class StoredFile:
    file_name: str
    display_name: str | None
    source_type: str | None
    uploaded: str  # exactly as the API returns it
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def to_api(self) -> dict[str, Any]:
        return {
            "fileName": self.file_name,
            "displayName": self.display_name,
            "sourceType": self.source_type,
            "uploaded": self.uploaded,
        }


@dataclass
class Company:
    company_id: str
    connections: list[str]
    files: list[StoredFile] = field(default_factory=list)


def load_seed(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(SEED_FILE.read_text())
    config.update(overrides or {})
    return config


def _content(name: str, index: int, rng: random.Random) -> bytes:
    body = f"{name} #{index}\n" + "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 \n") for _ in range(200)
    )
    return body.encode() * rng.randint(1, 8)


def generate(config: dict[str, Any]) -> dict[str, Company]:
    """Companies with their files, the same every time for the same config."""
    rng = random.Random(config.get("seed", 0))
    start = date.fromisoformat(config.get("start_date", "2026-01-05"))
    stems: list[str] = config.get("name_stems", ["file"])
    exts: list[str] = config.get("extensions", ["pdf"])
    types: list[str] = config.get("source_types", ["Other"])
    dup_every = int(config.get("duplicate_every", 0) or 0)
    zoneless_every = int(config.get("zoneless_every", 0) or 0)
    offset_every = int(config.get("offset_every", 0) or 0)
    offset = str(config.get("offset", "-05:00"))
    companies: dict[str, Company] = {}
    for company_id, spec in config.get("companies", {}).items():
        company = Company(company_id, list(spec.get("connections", [])))
        n_files = int(spec.get("files", 0))
        n_days = max(1, int(spec.get("days", 1)))
        previous_by_day: dict[date, StoredFile] = {}
        for i in range(n_files):
            day = start + timedelta(days=i % n_days)
            # spread within 01:00-22:59 so offsets never move a file to another date
            moment = datetime(day.year, day.month, day.day, 1) + timedelta(
                seconds=(i // n_days) * 240 + rng.randint(0, 200)
            )
            if dup_every and i % dup_every == dup_every - 1 and day in previous_by_day:
                name = previous_by_day[day].file_name  # same name, same day, a later upload
            else:
                name = f"{rng.choice(stems)}-{i:04d}.{rng.choice(exts)}"
            if zoneless_every and i % zoneless_every == 1:
                uploaded = moment.strftime("%Y-%m-%dT%H:%M:%S")
            elif offset_every and i % offset_every == 2:
                uploaded = moment.strftime("%Y-%m-%dT%H:%M:%S") + offset
            else:
                uploaded = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            display = None if i % 3 else name.rsplit(".", 1)[0].replace("-", " ").title()
            stored = StoredFile(name, display, rng.choice(types), uploaded, _content(name, i, rng))
            company.files.append(stored)
            previous_by_day[day] = stored
        companies[company_id] = company
    return companies
