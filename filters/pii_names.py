"""Personal-name detection for Vietnamese text: cue rules first, CRF NER only as a fallback.

Sources, cheapest first:

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

4. Without diacritics (text with no Vietnamese letters, or such a line in an accented page;
   the NER is not used there): unaccented surnames with capitalised syllables ("Nguyen Van
   An"); unaccented cues with capitalised known name syllables ("chi Lan", "ong Doan Van
   Hau"); and full names in lower case ("nguyen van hung goi lai cho minh"): a listed
   surname, a middle syllable and one or two given-name syllables. Ordinary words that take
   that shape are refused with the two-syllable words of underthesea's Viet74K dictionary
   ("thi truong van hoa": thị trường; "phan anh dung": phản ánh) and a short list of
   phrases (``filters/data/pii_plain_name_stop.txt``: "tu van", "phan van", "do thi"...).

Policy: a name is NAME when it is a person's (private persons, celebrities, athletes,
officials named without their office). Not NAME, besides streets, places and institutions
named after people: historical figures (``filters/data/pii_historical.txt``: "Trần Hưng
Đạo đánh tan quân Nguyên", "Bác Hồ") and office holders named with their public office
(``filters/data/pii_public_titles.txt``: "Thủ tướng Phạm Minh Chính", "Bộ trưởng Bộ Y tế
Đào Hồng Lan", "Tổng thống Mỹ Joe Biden"): public information, not personal data. A
private-person cue ("cháu Lê Lợi, 6 tuổi", "anh Nguyễn Văn Trỗi, tài xế") or other personal
data in the sentence (a phone number, an ID, an address) makes such a name a namesake and
NAME again.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Callable
from importlib import resources
from pathlib import Path

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
_BLOCK_WORDS = (
    "phố đi bộ", "chi nhánh", "cơ sở", "đường", "phố", "ngõ", "ngách", "hẻm", "kiệt", "đại lộ", "quận",
    "huyện", "phường", "xã", "thị trấn", "thị xã", r"tp\.?", "thành phố", "tỉnh", "trường", "thpt",
    "thcs", "tiểu học", "đại học", "học viện", "bệnh viện", "bv", "cầu", "chợ", "công ty", "cty",
    "tnhh", "cổ phần", "tập đoàn", "giải", "quỹ", "lăng", "đền", "chùa", "tượng đài", "sân vận động",
    "svđ", "nhà văn hóa", "khu", "ấp", "thôn", "xóm", "bến", "cảng", "sân bay", "quảng trường",
    "công viên", "hồ", "sông", "núi", "đảo", "đặc khu", "tàu", "phim", "ca khúc", "bài hát",
    "tác phẩm", "cuốn", "trạm", "ga", "khách sạn", "nhà hàng", "quán", "tiệm", "cửa hàng", "hãng",
    "thương hiệu", "đội", "clb", "câu lạc bộ", r"p\.", r"q\.", r"tt\.", r"tx\.", r"h\.", "trung tâm",
    "nhà máy", "chung cư", "tòa nhà", "khu đô thị", "kđt", "nhà sách", "nhà xuất bản", "nxb", "báo",
    "tạp chí", "kênh", "đài", "ngã tư", "ngã ba", "ngã năm", "ngã sáu", "giao lộ", "nút giao",
    "vòng xoay", "bùng binh", "mặt tiền", "mặt đường", "góc", "dọc", "tuyến", "tuyến phố",
    "tuyến đường", "hầm", "cầu vượt", "trục", "nhà thờ", "nhà lưu niệm", "khu lưu niệm",
    "nhà tưởng niệm", "di tích", "khu di tích", "bảo tàng", "mộ", "lăng mộ", "nghĩa trang", "đền thờ",
    "miếu", "đình", "phủ", "ký túc xá", "ktx", "mầm non", "trường chuyên", "nhà thi đấu", "nhà hát",
    "cung", "rạp", "vườn hoa", "giải thưởng", "huân chương", "huy chương", "học bổng", "tàu ngầm",
    "bến xe", "nhà ga", "lô", "tòa", "toà", "kcn", "khu công nghiệp", "làng", "phòng khám",
    "trạm y tế", "viện", "cao tốc", "quốc lộ", "tỉnh lộ", "đường tỉnh", "ql",
)
_BLOCK_BEFORE = re.compile(r"(?:^|[^\w])(?:" + "|".join(_BLOCK_WORDS) + r")\s*$")
# Without diacritics many of these words are other, common words ("cho" chợ/cho, "den" đền/đến,
# "chua" chùa/chưa, "hang" hãng/hàng, "vien" viện/viên, "bao" báo/bảo); those are left out of the
# unaccented form so that "gui cho Nguyen Van An" keeps its name.
_PLAIN_BLOCK_AMBIGUOUS = frozenset(
    "cho den chua cau giai lang bao hang ga tau ho song dao ben cang dai doi quy vien cung lo dinh phu mo doc "
    "truc ham tiem ap toa phim cuon kenh".split()
)
_PLAIN_BLOCK_BEFORE = re.compile(r"(?:^|[^\w])(?:" + "|".join(
    w for w in dict.fromkeys(strip_diacritics(x) for x in _BLOCK_WORDS) if w not in _PLAIN_BLOCK_AMBIGUOUS) + r")\s*$")

# A name in a list after a street or place ("đường Lý Thường Kiệt và Đào Duy Từ", "ngã tư Nguyễn
# Văn Linh – Nguyễn Hữu Thọ", "các tuyến đường Hoàng Văn Thụ, Cộng Hòa, Trường Chinh") is one too.
_LIST_SEP_BEFORE = re.compile(r"(?:\s*[,/–\-]\s*|\s+(?:và|hoặc|với|giao với|giao|đến|tới|qua|sang|ra)\s+)$")


# Cues that make the name after them a private person even when the name is a historical
# figure's or follows a public office ("cháu Lê Lợi, 6 tuổi", "ông bà Đinh Công Tráng").
_PRIVATE_CUES = (
    "anh", "chị", "em", "cháu", "bé", "cậu", "dì", "thím", "mợ", "dượng", "bạn", "con trai", "con gái",
    "vợ", "chồng", "mẹ", "bố", "má", "ông bà", "người yêu", "bạn gái", "bạn trai", "bạn thân", "em gái",
    "em trai", "anh trai", "chị gái", "anh rể", "chị dâu", "em họ", "cháu gái", "cháu trai", "ông nội",
    "bà nội", "ông ngoại", "bà ngoại", "chồng cũ", "vợ cũ", "bệnh nhân", "nạn nhân", "bị cáo", "bị can",
    "bị hại", "đối tượng", "nghi phạm", "tài xế", "chủ xe", "học sinh", "sinh viên", "nữ sinh", "nam sinh",
    "tên là", "tên tôi là", "họ tên", "họ và tên", "tên thật là", "mình là", "tôi là", "em là", "tớ là",
    "mình tên", "em tên", "tôi tên", "người nhận", "người gửi", "người liên hệ", "chủ tài khoản",
    "chủ tk", "khách hàng", "tên",
)

# Private-person cues that, without diacritics, are also other common words: "cau" (cậu/cầu),
# "vo" (vợ/vô), "bo" (bố/bộ), "chong" (chồng/chống), "ma" (má/mà), "ten" (tên: also English).
_PLAIN_AMBIGUOUS_CUES = frozenset({"cau", "vo", "bo", "chong", "ma", "ten", "di", "me"})

# Lower-case words allowed between a public office and the holder's name: the second syllables
# of ministry, committee and country names ("Bộ trưởng Bộ Tài chính X", "Chủ tịch UBND tỉnh Y X",
# "Đại sứ Việt Nam tại Nhật Bản X"). A verb or a cue in between ("Thủ tướng gặp bà X") breaks it.
_OFFICE_BODY_WORDS = frozenset(
    "tại và của ở tỉnh thành phố tp tp. huyện quận xã phường thị nước bộ chính tế dục tạo hoạch tư an "
    "giao vụ pháp dựng thông vận tải nghiệp triển nông thôn nguyên trường tin động binh hội học nghệ "
    "hóa hoá thao lịch phòng thương ủy uỷ ban nhân dân đồng trung ương cộng sản kiểm sát tối cao nhà "
    "hàng lao chủ nghĩa hòa hoà liên bang quốc kỳ vương anh -".split()
)

# "mang tên" / "đặt tên" / "lấy tên" / "theo tên": a place or institution named after someone.
_NAMED_AFTER = re.compile(r"(?i:mang|đặt|lấy|theo|dat|lay)\s+(?i:tên|ten)\s*$")

_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\"“(\-–•*]\s*)$")
_NAME_TAIL = rf"{CAP_SYL}(?: {CAP_SYL}){{0,3}}"


def _key(name: str) -> str:
    return " ".join(name.lower().split())


# Middle-name syllables that make "surname + middle + given" in lower case a name.
_MIDDLE_PLAIN = frozenset(
    "van thi duc huu quoc ngoc thanh xuan cong dinh quang minh hoang thu kim bao gia hong tuan trong "
    "tien the nhat viet anh thuy phuong khanh hai duy hoai nhu my bich tan trung manh dang ba si sy "
    "khac dac tuong thien phuc dieu thao kieu le".split()
)
# Given-name syllables that are also common verbs or particles: as a fourth syllable they are
# the next word ("tran thi mai bao la..." = Trần Thị Mai báo là).
_VERBISH_PLAIN = frozenset("an lam thi sang tin nhan dung dinh dong bao hieu tu thu tam hoa luc loi the tai".split())
# Unaccented forms of address that are also surnames: "Chau Phuc" at a sentence start is
# "Cháu Phúc" (the grandchild Phúc) far more often than a person surnamed Châu.
_PLAIN_KIN_CUES = frozenset("chau chu".split())
# Words that follow a person as the subject ("chi Ha da...", "ba Nam ban xoi"): a name and one
# of these make a dictionary word by accident ("ha da", "nam ban"), not a compound.
_AFTER_SUBJECT = frozenset(
    "da se dang co khong la va thi roi oi nhe nha cung van moi vua lai o noi duoc bi can muon phai chua hay "
    "nen voi cho ban mua ke biet thay nho yeu".split()
)
# Unaccented form labels and self-introductions after which a lower-case name is a name.
_PLAIN_FORM_CUES = (
    "ho ten", "ho va ten", "ten", "ten la", "ten toi la", "toi ten", "toi ten la", "minh ten", "minh ten la",
    "em ten", "em ten la", "nguoi nhan", "nguoi gui", "nguoi lien he", "chu tai khoan", "chu tk", "ten chu the",
)
# Forms of address that may stand between a form label and the name ("nguoi nhan: chi Lan").
_PLAIN_ADDRESS_WORDS = frozenset("anh chi em ong ba co chu bac chau be thay ban".split())
# Country names that are also given-name syllables, written without diacritics.
_COUNTRY_PLAIN = frozenset("viet my nga phap duc anh han lao thai nhat trung uc y tau".split())
# A single capitalised syllable ends a name when punctuation or the text end follows it.
_NAME_END = re.compile(r"\s*(?:[:,;.!?)\]]|$)")
_WORD_BEFORE = re.compile(r"(?<![\w])([A-Za-z]+) $")
_WORD_AFTER = re.compile(r" ([A-Za-z]+)(?![\w])")
_CAP_BEFORE = re.compile(r"(?<![\w])" + CAP_SYL + r"(?: " + CAP_SYL + r")*$")
_PLAIN_CAP_BEFORE = re.compile(r"(?<![\w])[A-Z][a-z]*(?: [A-Z][a-z]*)*$")
_LIST_HEAD = re.compile(r"(?:các|những|tuyến|trục|dọc|nhiều|ngã tư|ngã ba|giao lộ|nút giao|góc|cac|nhung|tuyen|truc|doc|nhieu)")


@functools.lru_cache(maxsize=1)
def plain_compounds() -> frozenset[str]:
    """Two-syllable Vietnamese words without diacritics, lower case ("muc do", "thi truong",
    "phan anh"), from underthesea's Viet74K word list; empty when it is not installed.

    A lower-case name candidate that makes such a word with the word before it ("che do van
    hoa": chế độ) or inside itself ("phan anh dung": phản ánh) is ordinary text.
    """
    try:
        base = resources.files("underthesea")
    except ModuleNotFoundError:
        return frozenset()
    path = Path(str(base)) / "corpus" / "data" / "Viet74K.txt"
    if not path.is_file():
        log.warning("underthesea Viet74K word list not found; lower-case unaccented names are less precise")
        return frozenset()
    out: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        words = unicodedata.normalize("NFC", line.strip().lower()).split()
        if len(words) == 2:
            out.add(strip_diacritics(" ".join(words)))
    return frozenset(out)


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
        # Lower-case names without diacritics and without a cue ("nguyen van hung goi lai"):
        # a listed surname, a middle syllable and one or two given-name syllables, all lower case,
        # only in text without Vietnamese letters (in accented text these are ordinary words).
        given = load_word_list("pii_given_plain.txt")
        self.given_plain = frozenset(given)
        self.surnames_lower = frozenset(load_word_list("pii_surnames_lower.txt"))
        self._lower_name_re = re.compile(
            first_char_lookahead(self.surnames_lower, True) + r"(?<![\w])(?P<name>(?i:"
            + word_alternation(self.surnames_lower, fold_case=True) + r")(?: (?i:"
            + word_alternation(given, fold_case=True) + r")(?![\w])){2,3})")
        stops = [line.split(":", 1) for line in load_word_list("pii_plain_name_stop.txt")]
        self.plain_name_stop = tuple(x[0].strip() for x in stops if len(x) == 1)
        self.plain_name_stop_before = {x[0].strip(): frozenset(x[1].split()) for x in stops if len(x) == 2}
        self.compounds = plain_compounds()
        plain_cues = load_word_list("pii_plain_cues.txt")
        self._plain_cue_re = re.compile(
            first_char_lookahead(plain_cues, True) + r"(?<![\w])(?P<cue>(?i:" + word_alternation(plain_cues, fold_case=True)
            + r"))(?::\s*|\s+)(?P<name>[A-Z][a-z]{0,6}(?: [A-Z][a-z]{0,6}){0,3})(?![\w])")
        # Form labels and self-introductions strong enough to take a lower-case name after them
        # ("ho ten: do thi hong", "toi ten la khoi"); "ten" alone needs a colon.
        self._plain_form_cue_re = re.compile(
            r"(?<![\w])(?P<cue>(?i:" + word_alternation(_PLAIN_FORM_CUES, fold_case=True)
            + r"))(?P<sep>\s*:\s*|\s+)(?P<name>[a-z]+(?: [a-z]+){0,3})")
        # Unaccented, many stop words are given names too ("Nam" năm/Nam, "Nhung" những/Nhung):
        # after a cue those are names.
        self._plain_stop_first = frozenset(
            w for w in (strip_diacritics(x) for x in self.stop_first) if w.lower() not in self.given_plain)
        self._plain_surnames = frozenset(strip_diacritics(x).lower() for x in self.surnames)
        # Historical figures and public office holders are not private persons (module docstring).
        self.historical = frozenset(_key(x) for x in load_word_list("pii_historical.txt"))
        self.historical_plain = frozenset(strip_diacritics(x) for x in self.historical)
        titles_public = load_word_list("pii_public_titles.txt")
        titles_plain = {strip_diacritics(t) for t in titles_public}
        self._public_title_re = re.compile(
            first_char_lookahead(titles_public, True) + r"(?<![\w])(?i:"
            + word_alternation(titles_public, fold_case=True) + r")(?![\w])")
        self._public_title_plain_re = re.compile(
            first_char_lookahead(titles_plain, True) + r"(?<![\w])(?i:"
            + word_alternation(titles_plain, fold_case=True) + r")(?![\w])")
        self._office_words_plain = frozenset(strip_diacritics(w) for w in _OFFICE_BODY_WORDS)
        self._private_cue_re = re.compile(
            r"(?:^|[^\w])(?i:" + word_alternation(_PRIVATE_CUES, fold_case=True) + r")\s*:?\s*$")
        self._plain_private_cue_re = re.compile(
            r"(?:^|[^\w])(?i:" + word_alternation(
                {strip_diacritics(c) for c in _PRIVATE_CUES} - _PLAIN_AMBIGUOUS_CUES, fold_case=True) + r")\s*:?\s*$")
        self._plain_places = frozenset(strip_diacritics(x) for x in self.gaz.provinces | self.gaz.districts)
        self._plain_not_person = frozenset(strip_diacritics(x) for x in self.not_person)
        self._plain_block_before = _PLAIN_BLOCK_BEFORE

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
            if not self._cue_allowed(text, m):
                continue
            if name.split(" ")[0] in self.stop_first and not (
                    " " not in name and _NAME_END.match(text, m.end("name"))):
                continue  # "bà Ngân hàng..." is a bank; "cô Ngân: 09..." is a person
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
            if self._in_place_list(text, m.start()):
                continue
            words = name.split(" ")
            if self._is_place(name) or " ".join(words[1:]).lower() in self.not_person:
                continue
            if name.isascii() and self._plain_name_rejected(text, m.start(), m.end()):
                continue  # "Cao Bang", "Lam Vien" typed without diacritics
            span = self._trim_titles(m.start(), name)
            if span is not None:
                hits.append(Hit("NAME", span[0], span[1], 1))
        return hits

    def _plain_surname_hits(self, text: str) -> list[Hit]:
        """Names typed without diacritics: an unaccented surname and 1-3 capitalised syllables,
        unless the words (or all but the first) name a province, district or known non-person."""
        hits: list[Hit] = []
        for m in self._plain_surname_re.finditer(text):
            if not self._plain_name_rejected(text, m.start(), m.end()):
                hits.append(Hit("NAME", m.start(), m.end(), 1))
        return hits

    def _plain_name_rejected(self, text: str, start: int, end: int) -> bool:
        """Whether a capitalised name without diacritics at ``start:end`` is a place or part of
        ordinary words: a run of its syllables is a province, district or listed non-person
        ("Cao Bang"); a street or institution word precedes it or a list it continues ("duong Le
        Loi"); its first syllable is such a word in front of a name or place ("Duong Vo Van Kiet",
        "Quan Hoang Mai"); it is a cue and one syllable ("Chau Phuc": cháu Phúc); or, two
        syllables long, it ends in the first half of a compound ("Truong Dai hoc", "Tong Bi thu")."""
        words = text[start:end].split(" ")
        lower = [w.lower() for w in words]
        if not self._plain_ok_places(lower):
            return True
        if self._plain_block_before.search(strip_diacritics(text[max(0, start - 25):start].lower())):
            return True
        if self._in_place_list(text, start, plain=True):
            return True
        if len(words) >= 2 and self._plain_block_before.search(lower[0]) and (
                " ".join(lower[1:]) in self._plain_places or " ".join(lower[1:]) in self.historical_plain):
            return True
        if len(words) == 2 and lower[0] in _PLAIN_KIN_CUES and _SENTENCE_START.search(text[max(0, start - 3):start]):
            return True
        if len(words) == 2:
            nxt = _WORD_AFTER.match(text, end)
            if nxt and nxt.group(1).islower() and f"{lower[1]} {nxt.group(1)}" in self.compounds:
                return True
        return False

    @staticmethod
    def _unaccented_at(text: str, start: int, end: int) -> bool:
        """Whether the text around ``start:end`` (up to 100 characters each side, within its line)
        is written without Vietnamese letters."""
        lo = max(start - 100, text.rfind("\n", 0, start) + 1, 0)
        hi = text.find("\n", end)
        hi = min(end + 100, len(text) if hi < 0 else hi)
        return VIETNAMESE_LETTER.search(text, lo, hi) is None

    def _plain_ok_places(self, words: list[str]) -> bool:
        """False when the (lower-case, unaccented) words, or their first two or more, are a province,
        district or listed non-person ("cao bang", "lam dong"). A place after the surname is a given
        name ("Dang Van Lam": Văn Lâm is also a district)."""
        return not any(" ".join(words[:j]) in self._plain_places or " ".join(words[:j]) in self._plain_not_person
                       for j in range(2, len(words) + 1))

    def _plain_cue_hits(self, text: str) -> list[Hit]:
        """Unaccented cue + capitalised name ("chi Lan", "ong Doan Van Hau") in unaccented text; every
        syllable of the name must be a known surname or given-name syllable."""
        hits: list[Hit] = []
        for m in self._plain_cue_re.finditer(text):
            if not self._cue_allowed(text, m):
                continue
            words = m.group("name").split(" ")
            lower = [w.lower() for w in words]
            # keep the longest run of name syllables from the start ("Lan o phong" -> "Lan")
            if words[0] in self._plain_stop_first or not all(
                    w in self.given_plain or w in self._plain_surnames for w in lower):
                continue
            if len(lower) == 1 and lower[0] in _COUNTRY_PLAIN and m.group("cue").lower() not in ("anh", "chi", "em", "ong"):
                continue  # "chong My" (chống Mỹ), "chu Nhat" (Chủ nhật), "co Phap"
            if not self._plain_ok_places(lower):
                continue
            start = m.start("name")
            end = start + len(" ".join(words))
            if not self._unaccented_at(text, start, end):
                continue
            nxt = _WORD_AFTER.match(text, end)
            if len(words) == 1 and nxt and nxt.group(1) not in _AFTER_SUBJECT and \
                    f"{lower[0]} {nxt.group(1)}" in self.compounds:
                continue  # "ban Hien phap" (bản Hiến pháp), "Uy ban Thuong vu" (thường vụ)
            hits.append(Hit("NAME", start, end, 2))
        return hits

    def _plain_form_cue_hits(self, text: str) -> list[Hit]:
        """Lower-case names after a form label or self-introduction typed without diacritics:
        "ho ten: do thi hong", "toi ten la khoi", "nguoi nhan: pham thu trang"."""
        hits: list[Hit] = []
        for m in self._plain_form_cue_re.finditer(text):
            if m.group("cue").lower() == "ten" and ":" not in m.group("sep"):
                continue
            words = m.group("name").split(" ")
            start = m.start("name")
            if words[0] in _PLAIN_ADDRESS_WORDS:
                if len(words) == 1:
                    continue  # "nguoi lien he: chi Vy": the cue rule reads the capitalised name
                start += len(words[0]) + 1  # "nguoi lien he: chi vy": the name is after "chi"
                words = words[1:]
            n = 0
            while n < len(words) and (words[n] in self.given_plain or words[n] in self._plain_surnames):
                n += 1
            if n == 0:
                continue
            if n >= 2 and words[0] in self._plain_surnames:
                words = words[:min(n, 4)]
            elif words[0] in self.given_plain:
                words = words[:1]  # a given name alone; a run of given-name words may be the sentence
            else:
                continue
            end = start + len(" ".join(words))
            if not self._unaccented_at(text, start, end) or not self._plain_ok_places(words):
                continue
            hits.append(Hit("NAME", start, end, 2))
        return hits

    def _lower_name_hits(self, text: str) -> list[Hit]:
        """Full names typed in lower case without diacritics and without a cue ("nguyen van hung"):
        surname + middle syllable + one or two given-name syllables, in unaccented text only."""
        hits: list[Hit] = []
        for m in self._lower_name_re.finditer(text):
            words = m.group("name").split(" ")
            lower = [w.lower() for w in words]
            if lower[1] not in _MIDDLE_PLAIN:
                continue
            if len(lower) == 4 and (lower[1] != "thi" or lower[3] in _VERBISH_PLAIN):
                words, lower = words[:3], lower[:3]
            start = m.start("name")
            end = start + len(" ".join(words))
            if not self._unaccented_at(text, start, end):
                continue
            if self._compound_around(text, start, end, lower):
                continue
            ctx = text[max(0, start - 20):end].lower()
            offset = start - max(0, start - 20)
            if any(0 <= (i := ctx.find(stop)) < len(ctx) and i + len(stop) > offset
                   for stop in self.plain_name_stop if stop in ctx):
                continue
            nexts = self.plain_name_stop_before.get(" ".join(lower[:2]))
            if nexts is not None and lower[2] in nexts:
                continue  # "phan van lam" (phân vân lắm), "dang thi thu" (đang thi thử)
            if not self._plain_ok_places(lower):
                continue
            if self._plain_block_before.search(strip_diacritics(text[max(0, start - 25):start].lower())):
                continue
            hits.append(Hit("NAME", start, end, 1))
        return hits

    def _compound_around(self, text: str, start: int, end: int, lower: list[str]) -> bool:
        """Whether the lower-case candidate ``lower`` (at ``start:end``) is part of ordinary words:
        its first syllable makes a word with the word before it ("thi truong van hoa": thị
        trường), or, unless the middle syllable is the unmistakable "van"/"thi", two of its own
        syllables make one ("phan anh dung": phản ánh)."""
        words = self.compounds
        if not words:
            return False
        prev = _WORD_BEFORE.search(text, max(0, start - 12), start)
        if prev and f"{prev.group(1).lower()} {lower[0]}" in words:
            return True
        if lower[1] not in ("van", "thi"):
            return any(f"{a} {b}" in words for a, b in zip(lower, lower[1:]))
        return False

    def _in_place_list(self, text: str, start: int, plain: bool = False) -> bool:
        """Whether the name at ``start`` continues a list of streets or places: "đường A và B",
        "ngã tư A – B", "các tuyến đường A, B, C" (a comma only after a plural or junction head)."""
        cap = _PLAIN_CAP_BEFORE if plain else _CAP_BEFORE
        block = self._plain_block_before if plain else _BLOCK_BEFORE
        pos = start
        comma = False
        for _ in range(8):
            sep = _LIST_SEP_BEFORE.search(text, max(0, pos - 12), pos)
            if sep is None:
                return False
            comma = comma or "," in sep.group(0)
            c = cap.search(text, max(0, sep.start() - 40), sep.start())
            if c is None:
                return False
            before = text[max(0, c.start() - 25):c.start()].lower()
            if plain:
                before = strip_diacritics(before)
            if block.search(before):
                return not comma or _LIST_HEAD.search(text[max(0, c.start() - 40):c.start()].lower()) is not None
            pos = c.start()
        return False

    # ------------------------------------------------------------------ not private persons
    def _is_public(self, text: str, start: int, end: int, evidence: list[tuple[int, int]]) -> bool:
        """A historical figure, or an office holder named with the office, and nothing in the
        sentence (a private-person cue, other personal data) says it is a private namesake."""
        name = text[start:end]
        before = text[max(0, start - 80):start]
        key = _key(name)
        public = key in self.historical or strip_diacritics(key) in self.historical_plain
        if not public:
            prev = before.rstrip().rsplit(None, 1)
            if prev:
                pair = _key(prev[-1] + " " + name)
                public = pair in self.historical or strip_diacritics(pair) in self.historical_plain  # "Bác Hồ"
        if not public and self._public_title_re.search(before) is None \
                and self._public_title_plain_re.search(before) is None:
            return False  # the common case: no historical name, no office before it
        sent_start, sent_end = self._sentence_bounds(text, start, end)
        before = text[max(sent_start, start - 80):start]
        plain = VIETNAMESE_LETTER.search(text, sent_start, sent_end) is None
        if not public and not self._after_office(before, plain):
            return False
        if any(sent_start <= a < sent_end for a, _ in evidence):
            return False
        if _NAMED_AFTER.search(before):
            return True  # "trường mang tên Nguyễn Trãi": the cue "tên" names a namesake place
        return not (self._plain_private_cue_re if plain else self._private_cue_re).search(before)

    def _after_office(self, before: str, plain: bool) -> bool:
        """Whether ``before`` (the text before a name, in its sentence) ends with a public office and
        at most the body or country it belongs to ("Bộ trưởng Bộ Y tế ", "Tổng thống Mỹ ")."""
        last = None
        for last in (self._public_title_plain_re if plain else self._public_title_re).finditer(before):
            pass
        if last is None:
            return False
        between = before[last.end():].split()
        if len(between) > 8:
            return False
        words = self._office_words_plain if plain else _OFFICE_BODY_WORDS
        return all(w[0].isupper() or w.lower() in words for w in between)

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
            if _BLOCK_BEFORE.search(text[max(0, s - 25):s].lower()) or self._in_place_list(text, s):
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
    def find(self, text: str, taken: list[tuple[int, int]] = (),
             evidence: list[tuple[int, int]] | None = None) -> list[Hit]:
        """Name hits in ``text``; ``taken`` are spans already claimed by other detectors.

        ``evidence``: spans of personal data (phones, IDs, addresses...) whose presence in a
        sentence marks the names there as private persons even when they are historical figures'
        or follow a public office; ``taken`` when not given.
        """
        hits = self._cue_hits(text) + self._surname_hits(text) + self._plain_surname_hits(text)
        if self._has_unaccented_part(text):
            hits += self._plain_cue_hits(text) + self._lower_name_hits(text) + self._plain_form_cue_hits(text)
        if self.use_ner:
            claimed = list(taken) + [(h.start, h.end) for h in hits]
            candidates = self._ner_candidates(text, claimed)
            if candidates:
                hits += self._ner_hits(text, candidates)
        ev = list(taken) if evidence is None else list(evidence)
        return [h for h in hits if not self._is_public(text, h.start, h.end, ev)]

    @staticmethod
    def _has_unaccented_part(text: str) -> bool:
        """Whether ``text``, or one of its lines of 30 characters or more, has no Vietnamese letter
        (typed without diacritics; a post quoted in an accented page is usually a line of its own).
        Cheap on accented text: each search stops at the first Vietnamese letter."""
        if VIETNAMESE_LETTER.search(text) is None:
            return True
        if "\n" not in text:
            return False
        return any(len(line) >= 30 and VIETNAMESE_LETTER.search(line) is None for line in text.split("\n"))
