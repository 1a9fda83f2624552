"""Street-address detection for Vietnamese text, with an administrative-unit gazetteer.

An address is PII when it reaches a dwelling: a house number with a street
(``số 12 đường Lê Lợi``, ``45/6 Nguyễn Trãi``), an alley path (``ngõ 10 phố Huế``,
``hẻm 51 Trần Hưng Đạo``), or a hamlet-level unit (``thôn Đông``, ``ấp 3``) followed
by a ward or district. The street part may be followed by ward / district / province
parts; those are absorbed into the span when they carry an administrative prefix
(``phường``, ``Q.``, ``TP.``...) or when the bare name is in the gazetteer built
from underthesea's administrative-unit mapping (2025 reform: old and new wards,
old districts, old and new provinces). A bare province or district name alone is
not an address and is never reported. The street, alley, house and unit words are matched
without diacritics too ("so 15 ngo 4 Kim Ma, Ba Dinh"), and so are the gazetteer's names.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import unicodedata
from importlib import resources
from pathlib import Path

from filters.legacy_encodings import strip_diacritics
from filters.pii_rules import Hit
from filters.pii_text import CAP_SEQ, CAP_SEQ2, word_alternation

__all__ = ["Gazetteer", "load_gazetteer", "find_addresses"]

log = logging.getLogger(__name__)

_UNIT_PREFIXES = re.compile(
    r"^(?:thành phố|thị xã|thị trấn|đặc khu|phường|quận|huyện|xã|tỉnh)\s+", re.IGNORECASE
)

# Short forms of province names written in news and ads that the mapping does not spell.
_PROVINCE_ALIASES = (
    "tp.hcm", "tp hcm", "tphcm", "tp. hcm", "tp.hồ chí minh", "tp. hồ chí minh", "tp hồ chí minh",
    "sài gòn", "hcm", "hn", "tp.hn", "tp. hà nội", "tp.hà nội", "tp hà nội", "đà nẵng", "huế",
    "hải phòng", "cần thơ", "vũng tàu", "bà rịa - vũng tàu", "bà rịa-vũng tàu", "brvt",
)


class Gazetteer:
    """Lower-cased names of Vietnamese provinces, districts and wards (prefix stripped)."""

    def __init__(self, provinces: set[str], districts: set[str], wards: set[str]) -> None:
        self.provinces = frozenset(provinces)
        self.districts = frozenset(districts)
        self.wards = frozenset(wards)
        self.all = self.provinces | self.districts | self.wards
        self.all_plain = frozenset(strip_diacritics(x) for x in self.all)

    def is_place(self, name: str) -> bool:
        """Whether ``name`` (any case, with or without diacritics) is a known province, district or
        ward name."""
        key = _key(name)
        return key in self.all or (key.isascii() and key in self.all_plain)

    def is_region(self, name: str) -> bool:
        """Whether ``name`` is a province or district (the levels a bare news mention uses)."""
        key = _key(name)
        return key in self.provinces or key in self.districts


def _key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).lower().split())


def _strip_unit(name: str) -> str:
    return _UNIT_PREFIXES.sub("", _key(name))


def _mapping_path() -> Path | None:
    try:
        base = resources.files("underthesea")
    except ModuleNotFoundError:
        return None
    path = Path(str(base)) / "address" / "data" / "mapping.json"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """Build the gazetteer once per process from underthesea's mapping.json (about 0.3 s)."""
    provinces: set[str] = set(_PROVINCE_ALIASES)
    districts: set[str] = set()
    wards: set[str] = set()
    path = _mapping_path()
    if path is None:
        log.warning("underthesea administrative mapping not found; address tails use prefixes only")
        return Gazetteer(provinces, districts, wards)
    data = json.loads(path.read_text(encoding="utf-8"))
    for table in ("province_names", "old_province_names"):
        for entry in data.get(table, {}).values():
            provinces.add(_strip_unit(entry["name"]))
            provinces.add(_key(entry["short"]))
    for row in data.get("ward_mapping", []):
        if row.get("old_district"):
            districts.add(_strip_unit(row["old_district"]))
        for k in ("old_ward", "new_ward"):
            if row.get(k):
                wards.add(_strip_unit(row[k]))
    return Gazetteer(provinces, districts, wards)


# --------------------------------------------------------------------------- patterns
_HOUSE_NO = r"\d{1,4}[A-Za-z]?(?:/\d{1,4}[A-Za-z]?){0,3}"
# (the unaccented forms too: posts typed without diacritics, "so 15 ngo 4 Kim Ma")
_HOUSE_WORD = r"(?i:" + word_alternation(("số nhà", "nhà số", "nhà", "số", "sn", "so nha", "nha so", "nha", "so"), True) + r")\s+"
# Capitalised words that follow "số 5" but start no street name (laws, rankings, months).
_NOT_STREET = r"(?!(?:Việt|Điều|Khoản|Chương|Mục|Phần|Nghị|Thông|Luật|Quyết|Bộ|Tháng|Năm|Ngày|Thế|Châu|Chính|Quốc|Trung|Đông|Nam|Bắc|Tây)(?![\w]))"
_STREET_TYPE = r"(?i:" + word_alternation(
    ("đường", "phố", "đại lộ", "quốc lộ", "tỉnh lộ", "ql", "đl", "duong", "pho", "dai lo", "quoc lo", "tinh lo"), True) + ")"
_ALLEY_TYPE = r"(?i:" + word_alternation(("ngõ", "ngách", "hẻm", "kiệt", "hẽm", "hxh", "ngo", "ngach", "hem", "kiet"), True) + ")"
_STREET_NAME = rf"(?:{CAP_SEQ}(?:\s+\d{{1,3}})?|(?i:số)\s+\d{{1,3}}|\d{{1,2}}/\d{{1,2}}|\d{{1,3}}[A-Z]?)"

# Street part forms, tried in this order at each position.
_STREET_FORMS = (
    # [số] 12 [ngõ 5 [ngách 3]] đường Lê Lợi / phố Huế / đường số 7 / đường 3/2
    rf"(?:{_HOUSE_WORD})?{_HOUSE_NO}(?:[ ,]+{_ALLEY_TYPE}\s+{_HOUSE_NO})*[ ,]+{_STREET_TYPE}\s+{_STREET_NAME}",
    # [số 5] ngõ 10 [ngách 3] [phố|đường] Huế / hẻm 51 Trần Hưng Đạo
    rf"(?:(?:{_HOUSE_WORD})?{_HOUSE_NO}[ ,]+)?{_ALLEY_TYPE}\s+{_HOUSE_NO}(?:[ ,]+{_ALLEY_TYPE}\s+{_HOUSE_NO})*"
    rf"(?:[ ,]+(?:{_STREET_TYPE}\s+)?{_STREET_NAME})?",
    # số 8 Tràng Tiền / nhà số 3 Lê Duẩn
    rf"{_HOUSE_WORD}{_HOUSE_NO}\s+{_NOT_STREET}{CAP_SEQ2}",
    # 45/6 Nguyễn Trãi (a slash in the house number is enough)
    rf"\d{{1,4}}[A-Za-z]?(?:/\d{{1,4}}[A-Za-z]?){{1,3}}\s+{_NOT_STREET}{CAP_SEQ2}",
)
# First-character lookaheads: a house number, "số/nhà/sn" or an alley word starts every form.
_STREET = re.compile(r"(?=[\dsnhkSNHK])(?<![\w/.,])(?:" + "|".join(f"(?:{f})" for f in _STREET_FORMS) + r")")

# 12 Lê Lợi — a bare number and a street name: accepted only when an administrative part follows.
_BARE_STREET = re.compile(rf"(?=\d)(?<![\w/.,])\d{{1,4}}[A-Za-z]?\s+{_NOT_STREET}{CAP_SEQ2}")

# Hamlet-level unit: thôn Đông / ấp 3 / xóm 5 / tổ 7 / khu phố 2 / tổ dân phố 4 / bản Lác.
_HAMLET = re.compile(
    r"(?=[tkấxbaTKẤXBA])(?<![\w])(?i:" + word_alternation(
        ("tổ dân phố", "khu phố", "thôn", "ấp", "xóm", "bản", "tổ", "kp.", "kp", "to dan pho", "khu pho", "thon", "ap",
         "xom"), True) + ")"
    rf"\s+(?:{CAP_SEQ}|\d{{1,3}}[A-Z]?)"
)

_UNIT_WORD = r"(?i:" + word_alternation((
    "phường", "xã", "thị trấn", "quận", "huyện", "thị xã", "thành phố", "tỉnh", "khu phố", "tổ dân phố", "thôn", "ấp",
    "xóm", "tổ", "đặc khu", "khu đô thị", "kđt", "kcn", "khu công nghiệp",
    "phuong", "xa", "thi tran", "quan", "huyen", "thi xa", "thanh pho", "tinh", "khu pho", "to dan pho", "thon", "xom",
    "dac khu"), True) + ")"
_UNIT_ABBR = r"(?:P\.|Q\.|H\.|TX\.|TT\.|TP\.|T\.|F\.|KP\.?|TP)"
_TAIL_PREFIXED = re.compile(
    rf"(?:\s*[,\-–]\s*|\s+)(?:{_UNIT_WORD}\s+|{_UNIT_ABBR}\s?)(?:{CAP_SEQ}|\d{{1,3}}|[A-ZĐ]{{2,4}})"
)
_TAIL_BARE = re.compile(rf"\s*[,\-–]\s*({CAP_SEQ}(?:\s*-\s*{CAP_SEQ})?|TP\.?\s?HCM|HCM|HN|TPHCM)")


def _extend_tail(text: str, end: int, gaz: Gazetteer) -> tuple[int, int]:
    """Absorb administrative parts after ``end``; return (new end, number of parts absorbed)."""
    parts = 0
    while True:
        m = _TAIL_PREFIXED.match(text, end)
        if m:
            end, parts = m.end(), parts + 1
            continue
        m = _TAIL_BARE.match(text, end)
        if m and gaz.is_place(m.group(1)):
            end, parts = m.end(), parts + 1
            continue
        return end, parts


def find_addresses(text: str, gaz: Gazetteer | None = None) -> list[Hit]:
    """Street and hamlet-level addresses, extended over following administrative units."""
    gaz = gaz or load_gazetteer()
    hits: list[Hit] = []
    for m in _STREET.finditer(text):
        end, _ = _extend_tail(text, m.end(), gaz)
        hits.append(Hit("ADDRESS", m.start(), end, 2))
    for m in _BARE_STREET.finditer(text):
        if any(h.start <= m.start() < h.end for h in hits):
            continue
        end, parts = _extend_tail(text, m.end(), gaz)
        if parts >= 1:
            hits.append(Hit("ADDRESS", m.start(), end, 1))
    for m in _HAMLET.finditer(text):
        if any(h.start <= m.start() < h.end for h in hits):
            continue
        # a hamlet is an address only when a ward/commune or district follows it
        tail = _TAIL_PREFIXED.match(text, m.end())
        if tail:
            end, _ = _extend_tail(text, tail.end(), gaz)
            hits.append(Hit("ADDRESS", m.start(), end, 1))
    return hits
