"""Personal-name detection for Vietnamese text: cue rules first, CRF NER only as a fallback.

Three sources, cheapest first:

1. Cue rule: a kinship term, form of address, role or form label (``anh``, ``chị``,
   ``bà``, ``bị cáo``, ``họ tên:``) followed by capitalised syllables; any length.
   Titles (``Thủ tướng``, ``Giám đốc``, ``Đại tá``) count too but need two syllables
   or more, since ``Thủ tướng Chính phủ`` names an office.
2. Surname rule: a Vietnamese family name (``Nguyễn``, ``Trần``...) followed by one to
   three capitalised syllables. Rejected when a street, administrative or
   organisation word precedes it (``đường Lê Lợi``, ``phường Nguyễn Du``,
   ``Trường THPT Lê Quý Đôn``) or when the whole sequence is a province, district or
   listed non-person place (``Hoàng Mai``, ``Cao Bằng``, ``Hồ Tây``) and no cue says
   otherwise.
3. NER fallback: a remaining capitalised sequence of two syllables or more that no rule
   explained and that does not start like an organisation or place is checked with
   underthesea's CRF ``ner`` on its sentence only (about 110 sentences/s per core, so
   it is called on a small fraction of sentences). The B-PER/I-PER tokens it returns
   are aligned back to character offsets.

Policy: every personal name is NAME, private person or public figure alike.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from importlib import resources

from filters.legacy_encodings import VIETNAMESE_LETTER, strip_diacritics
from filters.pii_address import Gazetteer, load_gazetteer
from filters.pii_rules import Hit
from filters.pii_text import CAP_SYL, first_char_lookahead, word_alternation

__all__ = ["NameFinder", "load_word_list"]

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def load_word_list(name: str) -> tuple[str, ...]:
    """Non-comment, non-empty lines of ``filters/data/<name>`` (NFC text, file order)."""
    text = resources.files("filters").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


# Words after which a capitalised sequence names a street, unit, institution or work, not a person.
_BLOCK_BEFORE = re.compile(
    r"(?:^|[^\w])(?:phố đi bộ|chi nhánh|cơ sở|đường|phố|ngõ|ngách|hẻm|kiệt|đại lộ|quận|huyện|phường|xã|thị trấn|thị xã|tp\.?|"
    r"thành phố|tỉnh|trường|thpt|thcs|tiểu học|đại học|học viện|bệnh viện|bv|cầu|chợ|công ty|cty|tnhh|"
    r"cổ phần|tập đoàn|giải|quỹ|lăng|đền|chùa|tượng đài|sân vận động|svđ|nhà văn hóa|khu|ấp|thôn|"
    r"xóm|bến|cảng|sân bay|quảng trường|công viên|hồ|sông|núi|đảo|đặc khu|tàu|phim|ca khúc|bài hát|"
    r"tác phẩm|cuốn|trạm|ga|khách sạn|nhà hàng|quán|tiệm|cửa hàng|hãng|thương hiệu|đội|clb|"
    r"câu lạc bộ|p\.|q\.|tt\.|tx\.|h\.|trung tâm|nhà máy|chung cư|tòa nhà|khu đô thị|kđt|nhà sách|"
    r"nhà xuất bản|nxb|báo|tạp chí|kênh|đài)\s*$"
)

_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\"“(\-–•*]\s*)$")
_NAME_TAIL = rf"{CAP_SYL}(?: {CAP_SYL}){{0,3}}"


class NameFinder:
    """Finds personal names; holds the compiled rules, word lists and the lazy NER handle."""

    def __init__(self, gazetteer: Gazetteer | None = None, use_ner: bool = True,
                 ner: Callable[[str], list] | None = None) -> None:
        self.gaz = gazetteer or load_gazetteer()
        self.use_ner = use_ner
        self._ner = ner
        self.ner_calls = 0
        self.surnames = frozenset(load_word_list("pii_surnames.txt"))
        self.stop_first = frozenset(load_word_list("pii_name_stop.txt"))
        self.ner_skip = frozenset(load_word_list("pii_ner_skip.txt")) | self.stop_first
        self.not_person = frozenset(w.lower() for w in load_word_list("pii_not_person.txt"))
        cues = load_word_list("pii_cues.txt")
        titles = load_word_list("pii_title_cues.txt")
        self._cue_re = re.compile(
            first_char_lookahead(cues, True) + r"(?<![\w])(?P<cue>(?i:" + word_alternation(cues, fold_case=True) + r"))"
            + r"(?::\s*|\s+)(?:(?i:" + word_alternation(titles, fold_case=True) + r")\s+)?(?P<name>" + _NAME_TAIL + r")"
        )
        self._title_re = re.compile(
            first_char_lookahead(titles, True) + r"(?<![\w])(?P<cue>(?i:"
            + word_alternation(titles, fold_case=True) + r"))"
            + r"\s+(?P<name>" + _NAME_TAIL + r")"
        )
        self._surname_re = re.compile(
            first_char_lookahead(self.surnames) + r"(?<![\w])(?P<name>(?:" + word_alternation(self.surnames)
            + r")(?: " + CAP_SYL + r"){1,3})"
        )
        self._capseq_re = re.compile(r"(?<![\w])" + CAP_SYL + r"(?: " + CAP_SYL + r"){1,4}")
        # Vietnamese typed without diacritics ("Ong Nguyen Van An"): the CRF NER is trained on
        # accented text and is skipped there, so unaccented surnames anchor a rule instead.
        plain = sorted({strip_diacritics(x) for x in self.surnames} - set(self.surnames), key=len, reverse=True)
        self._plain_surname_re = re.compile(
            first_char_lookahead(plain) + r"(?<![\w])(?P<name>(?:" + word_alternation(plain)
            + r")(?: [A-Z][a-z]{0,6}){1,3})(?![\w])")
        self._plain_places = frozenset(strip_diacritics(x) for x in self.gaz.provinces | self.gaz.districts)
        self._plain_not_person = frozenset(strip_diacritics(x) for x in self.not_person)
        self._plain_block_before = re.compile(strip_diacritics(_BLOCK_BEFORE.pattern))

    # ------------------------------------------------------------------ helpers
    def _is_place(self, name: str) -> bool:
        key = name.lower()
        return key in self.not_person or self.gaz.is_region(name)

    def _has_place(self, name: str) -> bool:
        """Whether ``name`` or any run of two or more of its syllables is a place or non-person."""
        words = name.split(" ")
        return any(self._is_place(" ".join(words[i:j]))
                   for i in range(len(words)) for j in range(i + 2, len(words) + 1))

    def _trim_titles(self, start: int, name: str) -> tuple[int, int] | None:
        """Drop trailing title syllables ("Hồ Chủ" of "Hồ Chủ tịch"); None if under two remain."""
        words = name.split(" ")
        while words and words[-1] in self.stop_first:
            words.pop()
        return (start, start + len(" ".join(words))) if len(words) >= 2 else None

    def _cue_allowed(self, text: str, m: re.Match[str]) -> bool:
        """A capitalised cue counts only at a sentence start (mid-sentence 'Anh' is England or a name)."""
        if m.group("cue")[0].islower():
            return True
        return _SENTENCE_START.search(text[max(0, m.start() - 3):m.start()]) is not None

    def _cue_hits(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        for m in self._cue_re.finditer(text):
            name = m.group("name")
            if not self._cue_allowed(text, m) or name.split(" ")[0] in self.stop_first:
                continue
            whole = f"{m.group('cue')} {name}".lower()
            if whole in self.not_person or name.lower() in self.not_person:
                continue
            if self.gaz.is_region(name) and " " in name:
                continue
            hits.append(Hit("NAME", m.start("name"), m.end("name"), 2))
        for m in self._title_re.finditer(text):
            name = m.group("name")
            if " " not in name or name.split(" ")[0] in self.stop_first or name.lower() in self.not_person:
                continue
            if not self._cue_allowed(text, m):
                continue
            hits.append(Hit("NAME", m.start("name"), m.end("name"), 2))
        return hits

    def _surname_hits(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        for m in self._surname_re.finditer(text):
            name = m.group("name")
            if _BLOCK_BEFORE.search(text[max(0, m.start() - 25):m.start()].lower()):
                continue
            words = name.split(" ")
            if self._is_place(name) or " ".join(words[1:]).lower() in self.not_person:
                continue
            span = self._trim_titles(m.start(), name)
            if span is not None:
                hits.append(Hit("NAME", span[0], span[1], 1))
        return hits

    def _plain_surname_hits(self, text: str) -> list[Hit]:
        """Names typed without diacritics: an unaccented surname and 1-3 capitalised syllables,
        unless the words (or all but the first) name a province, district or known non-person."""
        hits: list[Hit] = []
        for m in self._plain_surname_re.finditer(text):
            name = m.group("name")
            words = name.lower().split(" ")
            if any(" ".join(words[i:j]) in self._plain_places or " ".join(words[i:j]) in self._plain_not_person
                   for i in range(len(words)) for j in range(i + 2, len(words) + 1)):
                continue
            if self._plain_block_before.search(strip_diacritics(text[max(0, m.start() - 25):m.start()].lower())):
                continue
            hits.append(Hit("NAME", m.start(), m.end(), 1))
        return hits

    # ------------------------------------------------------------------ NER fallback
    def _ner_candidates(self, text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Capitalised sequences no rule explained and that could be a person's name."""
        out: list[tuple[int, int]] = []
        for m in self._capseq_re.finditer(text):
            s, e = m.start(), m.end()
            if any(a < e and s < b for a, b in taken):
                continue
            first = m.group(0).split(" ")[0]
            if first in self.ner_skip or first in self.surnames:
                continue
            if self.gaz.is_place(m.group(0)) or m.group(0).lower() in self.not_person:
                continue
            if _BLOCK_BEFORE.search(text[max(0, s - 25):s].lower()):
                continue
            out.append((s, e))
        return out

    def _run_ner(self, sentence: str) -> list[tuple[int, int]]:
        """PER spans (offsets into ``sentence``) from underthesea's CRF NER."""
        if self._ner is None:
            from underthesea import ner as underthesea_ner  # lazy: ~0.3 s import, CRF model load

            self._ner = underthesea_ner
        self.ner_calls += 1
        try:
            tokens = self._ner(sentence)
        except Exception:  # noqa: BLE001 - a model failure must not lose the record
            log.exception("underthesea ner failed; skipping NER for one sentence")
            return []
        spans: list[tuple[int, int]] = []
        cursor = 0
        current: list[int] | None = None
        for tok in tokens:
            word, tag = tok[0], tok[-1]
            pos = sentence.find(word, cursor)
            if pos < 0:
                current = None
                continue
            cursor = pos + len(word)
            if tag == "B-PER" or (tag == "I-PER" and current is None):
                current = [pos, cursor]
                spans.append((pos, cursor))
            elif tag == "I-PER" and current is not None:
                current[1] = cursor
                spans[-1] = (current[0], cursor)
            else:
                current = None
        return spans

    def _ner_hits(self, text: str, candidates: list[tuple[int, int]]) -> list[Hit]:
        hits: list[Hit] = []
        done: set[int] = set()
        for cs, ce in candidates:
            sent_start, sent_end = self._sentence_bounds(text, cs, ce)
            if sent_start in done:
                continue
            done.add(sent_start)
            sentence = text[sent_start:sent_end]
            if not VIETNAMESE_LETTER.search(sentence):
                continue  # unaccented: the NER model is unreliable there and costly; see __init__
            for ps, pe in self._run_ner(sentence):
                a, b = ps + sent_start, pe + sent_start
                if self._is_place(text[a:b]) or self._has_place(text[a:b]):
                    continue
                if any(a < e and s < b for s, e in candidates):
                    hits.append(Hit("NAME", a, b, 1))
        return hits

    @staticmethod
    def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
        left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start), text.rfind("! ", 0, start),
                   text.rfind("? ", 0, start))
        left = 0 if left < 0 else left + 1
        rights = [i for i in (text.find(". ", end), text.find("\n", end), text.find("! ", end),
                              text.find("? ", end)) if i >= 0]
        right = min(rights) + 1 if rights else len(text)
        return left, right

    # ------------------------------------------------------------------ entry point
    def find(self, text: str, taken: list[tuple[int, int]] = ()) -> list[Hit]:
        """Name hits in ``text``; ``taken`` are spans already claimed by other detectors."""
        hits = self._cue_hits(text) + self._surname_hits(text) + self._plain_surname_hits(text)
        if self.use_ner:
            claimed = list(taken) + [(h.start, h.end) for h in hits]
            candidates = self._ner_candidates(text, claimed)
            if candidates:
                hits += self._ner_hits(text, candidates)
        return hits
