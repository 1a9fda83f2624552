"""PII detection and scrubbing for Vietnamese text.

Public API (the pipeline codes against it):

* :data:`PII_TYPES` - the finding types, in a fixed order.
* :class:`PiiFinding` - one span: type, character offsets, matched text.
* :func:`find_pii` - non-overlapping findings sorted by start.
* :func:`redact` - replace findings by typed placeholders ``<PHONE>``, ``<NAME>``...
* :func:`scrub` - both at once, with counts by type.
* :class:`PiiDetector` - holds the compiled rules, gazetteer and NER handle; build one per
  worker (Beam ``DoFn.setup``). The module functions use a lazily built default instance.

How it works: structured types come from regular expressions with validators
(:mod:`filters.pii_rules`: province codes, MST check digit, Luhn, libphonenumber's VN
metadata plus the 11-digit mobile plan retired in 2018, context words; phone numbers typed
digit by digit and e-mail addresses spelled out to get past filters), addresses from street
patterns plus underthesea's administrative-unit gazetteer (:mod:`filters.pii_address`),
names from cue and surname rules with the CRF NER as a fallback, and rules of their own for
text typed without diacritics (:mod:`filters.pii_names`). Historical figures and office
holders named with their public office are not personal data (see :mod:`filters.pii_names`).
Every rule is linear in the text: no pattern can backtrack over a run of digits, dots and
spaces, and overlap resolution is O(n log n) in the number of candidates.

Overlaps are resolved deterministically: the longer span wins; on equal length the
candidate backed by context words (score 2) beats one backed by shape alone (score 1);
then :data:`PII_TYPES` order (earlier wins); then the earlier start.

Input is expected in NFC (the normalize step runs first); offsets index the given string.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from filters.pii_address import Gazetteer, find_addresses, load_gazetteer
from filters.pii_names import NameFinder
from filters.pii_rules import STRUCTURED_DETECTORS, Hit

__all__ = ["PII_TYPES", "PiiFinding", "PiiDetector", "find_pii", "redact", "scrub"]

PII_TYPES: tuple[str, ...] = (
    "CCCD", "CMND", "PASSPORT", "PHONE", "EMAIL", "TAX_CODE", "BANK_ACCOUNT", "CARD", "PLATE",
    "HEALTH_INSURANCE", "SOCIAL_INSURANCE", "DOB", "ADDRESS", "NAME", "IP",
)

# Tie-break order among equally long, equally scored overlapping candidates: the more
# specific pattern first (an e-mail or card number is never a phone by accident).
_PRIORITY: dict[str, int] = {t: i for i, t in enumerate((
    "EMAIL", "IP", "HEALTH_INSURANCE", "CARD", "CCCD", "CMND", "PASSPORT", "TAX_CODE",
    "SOCIAL_INSURANCE", "BANK_ACCOUNT", "PHONE", "PLATE", "DOB", "ADDRESS", "NAME",
))}


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """One PII span: ``text[start:end] == self.text``, ``type`` is one of :data:`PII_TYPES`."""

    type: str
    start: int
    end: int
    text: str


def _resolve(hits: Iterable[Hit]) -> list[Hit]:
    """Drop overlapping candidates: longer, then better scored, then higher priority wins."""
    ranked = sorted(hits, key=lambda h: (-(h.end - h.start), -h.score, _PRIORITY[h.type], h.start))
    # The kept spans are disjoint, so sorted by start they are sorted by end too, and a new span
    # can only overlap its two neighbours there: O(n log n) however many candidates a text has.
    starts: list[int] = []
    kept: list[Hit] = []
    for h in ranked:
        if h.end <= h.start:
            continue
        i = bisect.bisect_right(starts, h.start)
        if i > 0 and kept[i - 1].end > h.start:
            continue
        if i < len(kept) and kept[i].start < h.end:
            continue
        starts.insert(i, h.start)
        kept.insert(i, h)
    return kept


class PiiDetector:
    """Vietnamese PII detector; build once per worker and reuse (rules are compiled in ``__init__``).

    ``use_ner`` turns the underthesea NER fallback for names on (default) or off; ``types``
    restricts the output to a subset of :data:`PII_TYPES`.
    """

    def __init__(self, use_ner: bool = True, types: Iterable[str] | None = None,
                 gazetteer: Gazetteer | None = None) -> None:
        self.types = frozenset(types) if types is not None else frozenset(PII_TYPES)
        unknown = self.types - set(PII_TYPES)
        if unknown:
            raise ValueError(f"unknown PII types: {sorted(unknown)}")
        self.gazetteer = gazetteer or load_gazetteer()
        self.names = NameFinder(self.gazetteer, use_ner=use_ner)

    @property
    def ner_calls(self) -> int:
        """How many sentences were sent to the NER model so far (for throughput reports)."""
        return self.names.ner_calls

    def find_pii(self, text: str) -> list[PiiFinding]:
        """Non-overlapping findings in ``text``, sorted by start offset."""
        if not text:
            return []
        hits: list[Hit] = []
        for detect in STRUCTURED_DETECTORS:
            hits.extend(detect(text))
        hits.extend(find_addresses(text, self.gazetteer))
        if "NAME" in self.types:
            # A birth date does not make a historical figure a private person ("Nguyễn Du sinh năm
            # 1765"); contact details, IDs and addresses in the sentence do.
            evidence = [(h.start, h.end) for h in hits if h.type != "DOB"]
            hits.extend(self.names.find(text, [(h.start, h.end) for h in hits], evidence))
        return [PiiFinding(h.type, h.start, h.end, text[h.start:h.end])
                for h in _resolve(hits) if h.type in self.types]

    def redact(self, text: str, findings: Sequence[PiiFinding]) -> str:
        """See :func:`redact`."""
        return redact(text, findings)

    def scrub(self, text: str) -> tuple[str, dict[str, int]]:
        """Redacted text and the number of findings per type (only types found)."""
        findings = self.find_pii(text)
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.type] = counts.get(f.type, 0) + 1
        return redact(text, findings), counts


def redact(text: str, findings: Sequence[PiiFinding]) -> str:
    """Replace each finding's span with ``<TYPE>``; findings may come in any order.

    Overlapping findings (not produced by :func:`find_pii`) are tolerated: a span that starts
    inside an already replaced one is skipped.
    """
    parts: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.start < pos:
            continue
        parts.append(text[pos:f.start])
        parts.append(f"<{f.type}>")
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


_default: PiiDetector | None = None
_default_lock = threading.Lock()


def _default_detector() -> PiiDetector:
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = PiiDetector()
    return _default


def find_pii(text: str) -> list[PiiFinding]:
    """Findings from the module's default :class:`PiiDetector` (built on first use)."""
    return _default_detector().find_pii(text)


def scrub(text: str) -> tuple[str, dict[str, int]]:
    """Redacted text and counts by type, from the default :class:`PiiDetector`."""
    return _default_detector().scrub(text)
