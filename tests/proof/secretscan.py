"""Secret scan: no credential in any log line, exception text, delta metadata or cassette.

Two kinds of needle:

* the exact secret values of the environment the suites ran in (Connect API key, also
  without its ``ApiKey`` prefix and its secret part alone; Codat API key and its
  base64 ``Basic`` form; every Nuntiq job token issued), looked for in every text the
  runs produced and in every delta run's metadata and error;
* for the committed cassettes (recorded with other keys): the secret values of the
  shipped settings fixtures and the sandboxes' default keys, plus the shapes of live
  credentials (``ApiKey SU-...:...``, ``Basic <base64>``, ``Bearer <token>``) anywhere
  but in a redaction placeholder.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lib.runner import REPO_ROOT

CASSETTES = REPO_ROOT / "fixtures" / "cassettes"
SETTINGS = REPO_ROOT / "fixtures" / "settings"

#: shapes of live credentials; a match that is a placeholder (``<redacted>``, ``***``) is fine
CREDENTIAL_SHAPES = (
    re.compile(r"ApiKey\s+SU-[0-9]{3}-[0-9]{3}-[0-9]{3}:[A-Za-z0-9._~+/=-]{4,}"),
    re.compile(r"\bBasic\s+[A-Za-z0-9+/]{12,}={0,2}"),
    re.compile(r"\bBearer\s+(?!\*\*\*|<redacted>)[A-Za-z0-9._~+/=-]{12,}"),
)


@dataclass(frozen=True)
class Hit:
    where: str
    secret: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: {self.secret} ... {self.excerpt}"


def variants(name: str, value: str) -> dict[str, str]:
    """A secret and the forms it travels in (JSON-escaped, base64 for Codat keys)."""
    out = {name: value}
    escaped = json.dumps(value)[1:-1]
    if escaped != value:
        out[f"{name} (JSON-escaped)"] = escaped
    return out


def scan_texts(texts: Iterable[tuple[str, str]], secrets: Mapping[str, str]) -> list[Hit]:
    needles: dict[str, str] = {}
    for name, value in secrets.items():
        if value and len(value) >= 4:
            needles.update(variants(name, value))
    hits: list[Hit] = []
    for where, text in texts:
        for name, value in needles.items():
            at = text.find(value)
            if at >= 0:
                excerpt = text[max(0, at - 40) : at].replace("\n", " ")
                hits.append(Hit(where, name, f"{excerpt}<secret>"))
    return hits


def scan_shapes(texts: Iterable[tuple[str, str]]) -> list[Hit]:
    hits: list[Hit] = []
    for where, text in texts:
        for pattern in CREDENTIAL_SHAPES:
            for match in pattern.finditer(text):
                hits.append(
                    Hit(where, f"credential shape {pattern.pattern[:24]}", match.group(0)[:16] + "...")
                )
    return hits


def fixture_secrets() -> dict[str, str]:
    """Secret values of the shipped settings and the sandboxes' default keys."""
    from sandbox.codat.seed import load_seed
    from sandbox.connect.app import DEFAULT_API_KEY

    found: dict[str, str] = {"connect sandbox default key": DEFAULT_API_KEY}
    found["connect sandbox default key (bare)"] = DEFAULT_API_KEY.removeprefix("ApiKey ")
    codat_key = str(load_seed().get("api_key", ""))
    if codat_key:
        found["codat sandbox default key"] = codat_key
        found["codat sandbox default key (base64)"] = base64.b64encode(codat_key.encode()).decode()
    for path in sorted(SETTINGS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for key, value in (data.get("secrets") or {}).items():
            if isinstance(value, str) and value:
                found[f"{path.name} secrets.{key}"] = value
                if "codat" in key:
                    found[f"{path.name} secrets.{key} (base64)"] = base64.b64encode(value.encode()).decode()
    return found


def cassette_texts(root: Path = CASSETTES) -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(REPO_ROOT)), path.read_text(encoding="utf-8", errors="replace"))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]


def scan_cassettes(root: Path = CASSETTES) -> tuple[int, list[Hit]]:
    texts = cassette_texts(root)
    return len(texts), scan_texts(texts, fixture_secrets()) + scan_shapes(texts)
