"""The text pipeline decides exactly as it did before the ingest core was split out of it:
same kept ids, content hashes, languages, scores and signals, same rejection reasons, same
duplicate decisions, same quarantine, on the bundled sample and on a generated corpus
(tests/data/make_text_golden.py says how the reference was made and when to remake it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.data.make_text_golden import run_all

GOLDEN = Path(__file__).parent / "data" / "text_golden.json"


@pytest.mark.slow
def test_text_decisions_match_the_reference_made_before_the_core_split(tmp_path: Path) -> None:
    want = json.loads(GOLDEN.read_text())
    got = json.loads(json.dumps(run_all(tmp_path)))
    for corpus in ("sample", "generated"):
        for part in ("totals", "rejected_by_reason", "kept", "rejected", "duplicates", "quarantine"):
            assert got[corpus][part] == want[corpus][part], f"{corpus}: {part} differs"
