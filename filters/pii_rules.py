"""Pattern detectors for structured Vietnamese PII (IDs, phones, accounts, plates, dates of birth).

Each detector is a small function ``(text) -> list[Hit]`` built from one compiled
regular expression plus a validator (checksum, province code, phone metadata) and,
where the bare pattern is too common to trust, a context check on the words just
before the match. Look-alike numbers (prices, years, law numbers, dates of events,
version numbers) are excluded by the validators, by digit boundaries that refuse
to start or end inside a longer number, and by refusing numbers followed by a unit.

Contact details written to evade filters are found too: phone numbers with a separator
between every digit ("0 9 1 2 3 4 5 6 7 8", "0.9.1.2...", "09_86_45_32_10") by a linear
scan of digit chains, 11-digit mobile numbers of the plan retired in 2018 (0168 234 5678,
:data:`OLD_MOBILE_PREFIXES`), country codes in any spacing ("+ 84 91 234 5678", "(84) 913
222 444", "+84 (0) 912..."), and e-mail addresses spelled out ("ten [at] gmail [dot] com",
"ten a còng gmail chấm com", "ten @ gmail . com"). Context words are matched with and without
diacritics.

A :class:`Hit` carries a ``score``: 2 when explicit context words back the type,
1 when only the shape and validator do. :mod:`filters.pii` uses it to break ties
between equally long overlapping hits (``STK 0912345678`` is a bank account even
though it is also a valid phone number).

Text is expected in NFC (the pipeline's normalize step runs first).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Callable

import phonenumbers

__all__ = ["Hit", "STRUCTURED_DETECTORS", "CCCD_PROVINCE_CODES", "OLD_MOBILE_PREFIXES", "mst_is_valid",
           "luhn_is_valid"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One candidate finding before overlap resolution."""

    type: str
    start: int
    end: int
    score: int = 1


# The 63 province/city codes that open a 12-digit CCCD (Decree 137/2015/ND-CP, Circular
# 07/2016/TT-BCA): Hà Nội 001 ... Cà Mau 096. Codes in between (003, 005, ...) are unused.
CCCD_PROVINCE_CODES: frozenset[str] = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 "
    "034 035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 "
    "067 068 070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)

# Digit boundaries: a match may not start or end inside a longer token or number
# (``1.250.000``, ``100/2019``, ``v1.2``), so look-alikes embedded in them are refused.
# A digit lookahead first: the regex engine then rejects most positions before the lookbehind.
_B = r"(?=\d)(?<![\w.,/+\-])"
_A = r"(?![\w@]|[.,/\-]\w)"

# Units that, right after a number, make it a quantity rather than an identifier.
_UNIT_AFTER = re.compile(
    r"\s*(?:đồng|đ\b|vnđ|vnd|usd|\$|triệu|tỷ|tỉ|nghìn|ngàn|k\b|%|kg|km|m2|m²|ha\b|tấn|lít|người|"
    r"lượt|năm|tháng|ngày|giờ|phút|giây|chiếc|cái|căn|sản phẩm|trang|bản|lần|điểm|vòng)",
    re.IGNORECASE,
)

_SENTENCE_CUT = re.compile(r"[\n!?;]|\.\s")


def _before(text: str, start: int, window: int) -> str:
    """The lower-cased text in ``window`` chars before ``start``, cut at the last sentence break."""
    chunk = text[max(0, start - window):start]
    cuts = list(_SENTENCE_CUT.finditer(chunk))
    if cuts:
        chunk = chunk[cuts[-1].end():]
    return chunk.lower()


def _has_unit_after(text: str, end: int) -> bool:
    """True when a currency or measurement unit follows position ``end``."""
    return _UNIT_AFTER.match(text, end) is not None


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


# --------------------------------------------------------------------------- context words
# Between an ID cue and the number: up to 25 characters, no digits except a one- or two-digit
# count ("CMND cũ loại 12 số: 0010...", "CCCD gắn chip 12 số").
_CTX_GAP = r"(?:[^\d]|(?<!\d)\d{1,2}(?!\d)){0,25}"
# (each with its unaccented form: text typed without diacritics)
_CTX_CMND = re.compile(r"(?:\bcmnd\b|\bcmtnd\b|\bcmt\b|chứng minh (?:nhân dân|thư)|chứng minh\b|\bsố cm\b|"
                       r"chung minh (?:nhan dan|thu)|chung minh\b|\bso cm\b)" + _CTX_GAP + r"$")
_CTX_CCCD = re.compile(r"(?:\bcccd\b|căn cước|định danh|\bcc\b|can cuoc|dinh danh)" + _CTX_GAP + r"$")
_CTX_PASSPORT = re.compile(r"(?:hộ chiếu|passport|\bhc\b|\bpp\b|ho chieu)[^\d]{0,25}$")
_CTX_TAX = re.compile(r"(?:\bmst\b|mã số thuế|mã số doanh nghiệp|mã số dn|mã doanh nghiệp|tax code|\btin\b|"
                      r"ma so thue|ma so doanh nghiep|ma so dn\b|ma doanh nghiep)[^\d]{0,25}$")
_BANK_NAMES = (
    r"vietcombank|vcb|techcombank|tcb|bidv|agribank|vietinbank|mb ?bank|\bmb\b|acb|sacombank|vpbank|tpbank|"
    r"\bshb\b|hdbank|\bvib\b|\bocb\b|\bmsb\b|seabank|eximbank|lienvietpostbank|lpbank|nam ?a ?bank|"
    r"bac ?a ?bank|abbank|kienlongbank|baovietbank|pvcombank|\bscb\b|vietabank|shinhan|hsbc|momo|"
    r"viettel ?money|zalopay|ngân hàng|\bnh\b|ngan hang"
)
_CTX_BANK = re.compile(
    r"(?:\bstk\b|số tk\b|\btk\b|số tài khoản|tài khoản|account|\bacc\b|a/c|chuyển khoản|\bck\b|"
    r"so tk\b|so tai khoan|tai khoan|chuyen khoan|"
    + _BANK_NAMES + r")[^\d]{0,30}$"
)
_BANK_AFTER = re.compile(r"\s*(?:\(|-|tại|ở|,)?\s*(?:" + _BANK_NAMES + r")", re.IGNORECASE)
_CTX_CARD = re.compile(r"(?:số thẻ|thẻ tín dụng|thẻ ghi nợ|thẻ atm|thẻ visa|\bvisa\b|mastercard|\bjcb\b|\bthẻ\b|card|"
                       r"so the\b|the tin dung|the ghi no|the atm)[^\d]{0,30}$")
_CTX_BHXH = re.compile(
    r"(?:bhxh|bảo hiểm xã hội|sổ bảo hiểm|mã số bảo hiểm|mã bảo hiểm|mã số bh\b|mã bh\b|"
    r"bao hiem xa hoi|so bao hiem|ma so bao hiem|ma bao hiem|ma so bh\b|ma bh\b)[^\d]{0,30}$"
)
_CTX_VERSION = re.compile(r"(?:phiên bản|phien ban|version|\bver\.?|\bv)\s*$")


# --------------------------------------------------------------------------- CCCD / CMND
_ID12 = re.compile(_B + r"(\d{12}|\d{3}[ .]\d{3}[ .]\d{3}[ .]\d{3}|\d{4}[ .]\d{4}[ .]\d{4}|\d{6}[ .]\d{3}[ .]\d{3})" + _A)
_ID9 = re.compile(_B + r"(\d{9}|\d{3}[ .]\d{3}[ .]\d{3})" + _A)


def find_citizen_ids(text: str) -> list[Hit]:
    """12-digit CCCD (valid province code, or CCCD context) and 9-digit CMND (context required).

    A 12-digit number preceded by CMND context words is typed CMND (the old 12-digit CMND
    shares the CCCD layout and only the context tells them apart).
    """
    hits: list[Hit] = []
    for m in _ID12.finditer(text):
        digits = _digits(m.group(1))
        before = _before(text, m.start(), 60)
        if _CTX_CMND.search(before):
            hits.append(Hit("CMND", m.start(), m.end(), 2))
        elif _CTX_CCCD.search(before):
            hits.append(Hit("CCCD", m.start(), m.end(), 2))
        elif digits[:3] in CCCD_PROVINCE_CODES and not _has_unit_after(text, m.end()):
            hits.append(Hit("CCCD", m.start(), m.end(), 1))
    for m in _ID9.finditer(text):
        if _CTX_CMND.search(_before(text, m.start(), 60)):
            hits.append(Hit("CMND", m.start(), m.end(), 2))
    return hits


# --------------------------------------------------------------------------- passport
_PASSPORT = re.compile(r"(?<![\w\-/])([A-Z]{1,2})[ ]?(\d{7})(?![\w\-/])")
_PASSPORT_BARE_LETTERS = frozenset("BCNP")


def find_passports(text: str) -> list[Hit]:
    """Vietnamese passport numbers: a letter (B, C, N, P...) and 7 digits; other letters need context."""
    hits: list[Hit] = []
    for m in _PASSPORT.finditer(text):
        if _CTX_PASSPORT.search(_before(text, m.start(), 60)):
            hits.append(Hit("PASSPORT", m.start(), m.end(), 2))
        elif len(m.group(1)) == 1 and m.group(1) in _PASSPORT_BARE_LETTERS and " " not in m.group(0):
            hits.append(Hit("PASSPORT", m.start(), m.end(), 1))
    return hits


# --------------------------------------------------------------------------- phone
# A written phone number must carry its trunk or country prefix (0, 84, +84, 0084, (0xx),
# (+84), (84)); bare 9-digit numbers are too often quantities. Groups of 1-4 digits may be
# separated by one space, dot or dash. Validity is decided by libphonenumber's VN metadata,
# plus the 11-digit mobile numbers retired in 2018 (see OLD_MOBILE_PREFIXES).
_PHONE = re.compile(
    r"(?<![\w.,/+\-])"
    r"(?:\+84|0084|84|\(\+84\)|\(84\)|\(0\d{1,3}\)|0)"
    r"[ .\-]?\(?\d{1,4}\)?(?:[ .\-]?\d{1,4}){1,4}"
    r"(?![\w]|[.,\-/]\d)"
)

# Mobile prefixes (without the trunk 0) of the 11-digit numbers converted to 10 digits between
# 15/9/2018 and 2019 (Circular 22/2014/TT-BTTTT plan, MIC Decision 798/QĐ-BTTTT): Viettel
# 0162-0169 -> 032-039; MobiFone 0120 -> 070, 0121 -> 079, 0122 -> 077, 0126 -> 076,
# 0128 -> 078; VinaPhone 0123 -> 083, 0124 -> 084, 0125 -> 085, 0127 -> 081, 0129 -> 082;
# Vietnamobile 0186 -> 056, 0188 -> 058; Gmobile 0199 -> 059. Old posts, forms and scanned
# documents still carry them; libphonenumber no longer accepts them. 0161, 0187, 0189... were
# never assigned.
OLD_MOBILE_PREFIXES: frozenset[str] = frozenset(
    "120 121 122 123 124 125 126 127 128 129 162 163 164 165 166 167 168 169 186 188 199".split()
)


def _national_digits(candidate: str) -> str | None:
    """The national significant number of ``candidate`` (no trunk 0, no country code), or None
    when it carries neither prefix."""
    digits = _digits(candidate)
    if digits.startswith("0084"):
        digits = digits[4:]
    elif candidate.lstrip(" (").startswith("+") or digits.startswith("84"):
        if not digits.startswith("84"):
            return None
        digits = digits[2:]
    elif digits.startswith("0"):
        return digits[1:]
    else:
        return None
    return digits[1:] if digits.startswith("0") else digits  # +84 (0) 912...


def _valid_vn_phone(candidate: str) -> bool:
    """True when libphonenumber accepts ``candidate`` as a valid number for region VN, or when
    it is an 11-digit mobile number of the numbering plan retired in 2018 (0168 234 5678)."""
    nsn = _national_digits(candidate)
    if nsn is None or not 8 <= len(nsn) <= 10:
        return False
    if len(nsn) == 10 and nsn[:3] in OLD_MOBILE_PREFIXES:
        return True
    try:
        parsed = phonenumbers.parse(candidate.replace("_", " "), "VN")
    except phonenumbers.NumberParseException:
        return False
    return parsed.country_code == 84 and phonenumbers.is_valid_number(parsed)


# Digit chains: digit groups joined by one separator (space, dot, dash, underscore, or a dot /
# dash / underscore with a space on either side), the shape of numbers typed to get past filters
# ("0 9 1 2 3 4 5 6 7 8", "0.9.1.2.3.4.5.6.7.8", "0 3 5 8 - 4 4 1 - 2 9 0", "09_86_45_32_10").
# Each separator is a fixed token and the groups are maximal, so a chain parses one way only:
# the scan is linear in the text, with no backtracking inside a chain; a match that starts
# consumes its whole chain, so no position inside it is tried again.
# (A digit first, then the look-behind over it: the engine's first-character scan skips
# non-digits fast.)
_CHAIN = re.compile(r"\d(?<![\w.,/\-]\d)\d*(?:(?: ?[.\-_] ?| )\d+)+")
_GROUP = re.compile(r"\d+")
_INTL_BEFORE = re.compile(r"(?:\(\+ ?84\)|\(84\)|\+ ?)[ .\-]?$")
_CHAIN_END_BAD = re.compile(r"[\w@]|[.,\-/]\d")
# A phone found inside a longer chain must be at least this many groups long: a number typed
# digit by digit. Shorter ones in a longer chain are lists of small numbers (lottery results,
# scores, counting) that happen to validate.
_MIN_EVASIVE_GROUPS = 7
_MAX_PHONE_DIGITS = 13


def _chain_phones(text: str) -> list[tuple[int, int]]:
    """Phone spans in digit chains: the whole chain, a split of the whole chain into numbers,
    or a digit-by-digit run of at least :data:`_MIN_EVASIVE_GROUPS` groups not flanked by more
    one- or two-digit groups. Linear: each group starts at most one bounded look-ahead."""
    spans: list[tuple[int, int]] = []
    for m in _CHAIN.finditer(text):
        if m.end() - m.start() < 9 or _CHAIN_END_BAD.match(text, m.end()):
            continue  # under nine characters cannot hold nine digits
        chunk = m.group(0)
        seps = chunk.count(" ") + chunk.count(".") + chunk.count("-") + chunk.count("_")
        if len(chunk) - seps < 9:
            continue
        if seps < 5 and "_" not in chunk and " - " not in chunk and " . " not in chunk \
                and text[max(0, m.start() - 2):m.start()] != "+ ":
            continue  # the plain rule reads every other form of up to five groups
        groups = [(g.start(), g.end()) for g in _GROUP.finditer(text, m.start(), m.end())]
        if len(groups) < 2:
            continue  # a single group is the plain rule's business
        intl = _INTL_BEFORE.search(text, max(0, m.start() - 6), m.start())
        chain_start = intl.start() if intl else m.start()
        if intl and chain_start > 0 and (text[chain_start - 1].isalnum() or text[chain_start - 1] in "+."):
            chain_start, intl = m.start(), None
        found: list[tuple[int, int, int, int]] = []  # (first group, last group, start, end)
        i = 0
        n = len(groups)
        while i < n:
            best = -1
            ndig = 0
            start = chain_start if i == 0 else groups[i][0]
            if text[groups[i][0]] == "0" or text.startswith("84", groups[i][0]) or (i == 0 and intl):
                for j in range(i, n):
                    ndig += groups[j][1] - groups[j][0]
                    if ndig > _MAX_PHONE_DIGITS:
                        break
                    if ndig >= 9 and _valid_cached(text[start:groups[j][1]]):
                        best = j
            if best >= 0:
                found.append((i, best, start, groups[best][1]))
                i = best + 1
            else:
                i += 1
        if not found:
            continue
        if found[0][0] == 0 and found[-1][1] == n - 1 and all(
                a[1] + 1 == b[0] for a, b in zip(found, found[1:])):
            spans.extend((s, e) for _, _, s, e in found)  # the chain is numbers and nothing else
            continue
        for a, b, s, e in found:
            if b - a + 1 < _MIN_EVASIVE_GROUPS:
                continue
            small_before = a > 0 and groups[a - 1][1] - groups[a - 1][0] <= 2
            small_after = b < n - 1 and groups[b + 1][1] - groups[b + 1][0] <= 2
            if not (small_before or small_after):
                spans.append((s, e))
    return spans


@functools.lru_cache(maxsize=4096)
def _valid_cached(candidate: str) -> bool:
    return _valid_vn_phone(candidate)


def _small_group_list(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is made of 1-2 digit groups and the same list of small
    numbers goes on before or after it ("09 12 34 56 78 90": lottery results, not a phone)."""
    body = text[start:end]
    groups = _GROUP.findall(body)
    if len(groups) < 4 or any(len(g) > 2 for g in groups):
        return False
    return bool(re.match(r"[ .\-]\d{1,2}(?!\d)", text[end:end + 4])) or bool(
        re.search(r"(?<!\d)\d{1,2}[ .\-]$", text[max(0, start - 4):start]))


def _phone_spans(text: str) -> list[tuple[int, int]]:
    """Valid phone spans; a greedy match that swallowed a trailing number is trimmed group by group."""
    spans: list[tuple[int, int]] = []
    for m in _PHONE.finditer(text):
        start, end = m.start(), m.end()
        while end > start:
            cand = text[start:end]
            if _valid_vn_phone(cand):
                if not _small_group_list(text, start, end):
                    spans.append((start, end))
                break
            cut = max(cand.rfind(" "), cand.rfind("."), cand.rfind("-"))
            if cut <= 0 or len(_digits(cand[:cut])) < 9:
                break
            end = start + cut
    return spans


# After a phone number only a currency or measurement makes it a quantity: "gọi 0912 345 678
# giờ hành chính" is a phone followed by office hours.
_PHONE_UNIT_AFTER = re.compile(
    r"\s*(?:đồng|đ\b|vnđ|vnd|usd|\$|triệu|tỷ|tỉ|nghìn|ngàn|k\b|%|kg|km|m2|m²|ha\b|tấn|lít)", re.IGNORECASE)


def find_phones(text: str) -> list[Hit]:
    """Vietnamese mobile and landline numbers in their common written forms, in old 11-digit
    form, and typed digit by digit with separators."""
    spans = set(_phone_spans(text))
    if any(ch in text for ch in " .-_"):
        spans.update(_chain_phones(text))
    hits: list[Hit] = []
    for s, e in sorted(spans, key=lambda se: (se[0], -se[1])):
        if hits and s < hits[-1].end:
            continue  # inside a longer reading of the same number ("+ 84 912..." over "84 912...")
        if not _PHONE_UNIT_AFTER.match(text, e):
            hits.append(Hit("PHONE", s, e, 1))
    return hits


# --------------------------------------------------------------------------- email, IP
_EMAIL = re.compile(r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b")


# Addresses spelled out to get past filters: "ten [at] gmail [dot] com", "ten(at)gmail.com",
# "ten a còng gmail chấm com", "ten @ gmail . com", "ten[@]outlook.com", "ten AT x DOT vn".
# "@" is read "a còng" (North) or "a móc" (South); "." is "chấm". A spelled-out form needs a
# known top-level domain at the end, or a webmail name right after the "at" ("ten a còng
# gmail"), so ordinary words ("chấm điểm", "at home") do not start one. Bare " at " / " dot "
# count only in upper case or beside another spelled-out token.
_OBF_LOCAL = r"(?<![\w.+\-])[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,62}[A-Za-z0-9])?"
_OBF_AT = (
    r"(?:\s?[\[({<]\s?(?i:at|@|a|a còng|a cong|a móc|a moc)\s?[\])}>]\s?"
    r"|\s(?:(?i:a còng|a cong|a móc|a moc|acong)|at|AT|@)\s"
    r"|\s?@\s?)"
)
_OBF_DOT = (
    r"(?:\s?[\[({<]\s?(?i:dot|chấm|cham|\.)\s?[\])}>]\s?"
    r"|\s(?:(?i:chấm|cham)|dot|DOT)\s"
    r"|\s?\.\s?)"
)
_OBF_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_OBF_TLD = (
    r"(?i:com|net|org|vn|edu|gov|info|biz|io|me|co|xyz|online|site|asia|uk|us|jp|kr|cn|tw|hk|"
    r"sg|au|de|fr|ru|ca|in|th|la|kh)(?![\w])"
)
_WEBMAIL = r"(?i:gmail|yahoo|ymail|hotmail|outlook|icloud|live|msn|proton|protonmail)(?![\w])"
_EMAIL_OBF = re.compile(
    _OBF_LOCAL + _OBF_AT + r"(?:" + _OBF_LABEL + r"(?:" + _OBF_DOT + _OBF_LABEL + r"){0,3}" + _OBF_DOT
    + _OBF_TLD + r"|" + _WEBMAIL + r")"
)
# Cheap gate: the spelled-out pattern runs only on texts that contain one of its "at" tokens
# (plain substring tests, far cheaper than a regex scan of every position).
_OBF_AT_HINTS = (" at ", " AT ", "(at", "[at", "{at", "<at", "( at", "[ at", "(AT", "[AT", "(a)", "[a]", "a còng",
                 "a cong", "acong", "a móc", "a moc")
_OBF_WITH_AT_HINTS = (" @", "@ ", "[@", "(@", "{@", "<@", "chấm", "cham", "dot", "DOT", "[.]", "(.)")


def _obfuscation_hint(text: str) -> bool:
    if "@" in text and any(h in text for h in _OBF_WITH_AT_HINTS):
        return True  # "ten @ gmail . com", "ten[@]x.com", "ten@gmail chấm com"
    # every "at" token holds one of these; most texts have none, and the test ends there
    if not ("at" in text or "AT" in text or "cong" in text or "còng" in text or "moc" in text or "móc" in text
            or "(a)" in text or "[a]" in text):
        return False
    return any(h in text for h in _OBF_AT_HINTS)


_BARE_AT = re.compile(r"\sat\s")
_BARE_DOT = re.compile(r"\sdot\s")
_STRONG_TOKEN = re.compile(r"[\[({<]|(?i:còng|cong|móc|moc|chấm|cham)|\sAT\s|\sDOT\s|\s@|@\s|\s\.|\.\s")
_WEBMAIL_AFTER_AT = re.compile(r"\sat\s" + _WEBMAIL + r"\.")


def find_emails(text: str) -> list[Hit]:
    """E-mail addresses (ASCII local part and domain), plain or spelled out to evade filters."""
    hits = [Hit("EMAIL", m.start(), m.end(), 2) for m in _EMAIL.finditer(text)]
    if _obfuscation_hint(text):
        for m in _EMAIL_OBF.finditer(text):
            span = m.group(0)
            if "@" in span and not any(ch.isspace() or ch in "[](){}<>" for ch in span):
                continue  # a plain address: the rule above has it
            if not _STRONG_TOKEN.search(span):
                # only a lower-case " at " / " dot ": English prose ("email us at example.com")
                # unless both are spelled out or the "at" names a webmail service
                if not ((_BARE_AT.search(span) and _BARE_DOT.search(span)) or _WEBMAIL_AFTER_AT.search(span)):
                    continue
            hits.append(Hit("EMAIL", m.start(), m.end(), 2))
    return hits


_IPV4 = re.compile(r"(?=\d)(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/\d{1,2})?(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?=[0-9A-Fa-f:])(?<![\w:])(?:[0-9A-Fa-f]{1,4}:|:)(?::|[0-9A-Fa-f]{1,4}:){1,7}(?::|[0-9A-Fa-f]{1,4})?(?![\w:])")


def _octet_ok(s: str) -> bool:
    return (s == "0" or not s.startswith("0")) and int(s) <= 255


def find_ips(text: str) -> list[Hit]:
    """IPv4 (strict octets, no leading zeros, not after 'phiên bản'/'version') and IPv6 addresses."""
    hits: list[Hit] = []
    for m in _IPV4.finditer(text):
        if all(_octet_ok(g) for g in m.groups()) and not _CTX_VERSION.search(_before(text, m.start(), 15)):
            if not _has_unit_after(text, m.end()):
                hits.append(Hit("IP", m.start(), m.end(), 1))
    for m in _IPV6.finditer(text):
        cand = m.group(0)
        if cand.count(":") < 2 or sum(ch.isalnum() for ch in cand) < 3:
            continue
        try:
            ipaddress.IPv6Address(cand)
        except ValueError:
            continue
        hits.append(Hit("IP", m.start(), m.end(), 1))
    return hits


# --------------------------------------------------------------------------- tax code
_MST_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
_MST = re.compile(_B + r"(\d{10})(-\d{3})?" + _A)


def mst_is_valid(code: str) -> bool:
    """Check digit of a 10-digit Vietnamese tax code (the 10th digit; a remainder giving 10 is invalid)."""
    digits = _digits(code)[:10]
    if len(digits) != 10:
        return False
    check = 10 - sum(int(d) * w for d, w in zip(digits, _MST_WEIGHTS)) % 11
    return check != 10 and check == int(digits[9])


def find_tax_codes(text: str) -> list[Hit]:
    """MST: 10 digits with a valid check digit, optional -XXX branch suffix.

    Without context words a number that is also a valid phone number is left to the phone rule.
    """
    hits: list[Hit] = []
    for m in _MST.finditer(text):
        if not mst_is_valid(m.group(1)):
            continue
        if _CTX_TAX.search(_before(text, m.start(), 60)):
            hits.append(Hit("TAX_CODE", m.start(), m.end(), 2))
        elif not _valid_vn_phone(m.group(1)) and not _has_unit_after(text, m.end()):
            hits.append(Hit("TAX_CODE", m.start(), m.end(), 1))
    return hits


# --------------------------------------------------------------------------- bank account, card
_ACCOUNT = re.compile(_B + r"(\d{6,19}|\d{2,6}(?:[ \-]\d{2,6}){1,5})" + _A)
_THOUSANDS = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")


def find_bank_accounts(text: str) -> list[Hit]:
    """6-19 digit account numbers with banking context before (or a bank name right after)."""
    hits: list[Hit] = []
    for m in _ACCOUNT.finditer(text):
        n = len(_digits(m.group(1)))
        if not 6 <= n <= 19 or _has_unit_after(text, m.end()):
            continue
        before = _before(text, m.start(), 50)
        if _CTX_BANK.search(before) or _BANK_AFTER.match(text, m.end()):
            hits.append(Hit("BANK_ACCOUNT", m.start(), m.end(), 2))
    return hits


_CARD = re.compile(_B + r"(\d{13,19}|\d{4}(?:[ \-]\d{4}){2,3}(?:[ \-]\d{1,3})?|\d{4}[ \-]\d{6}[ \-]\d{5})" + _A)


def luhn_is_valid(number: str) -> bool:
    """The Luhn (mod 10) checksum used by payment cards."""
    digits = [int(d) for d in _digits(number)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return bool(digits) and total % 10 == 0


def find_cards(text: str) -> list[Hit]:
    """13-19 digit payment-card numbers passing Luhn; grouped or card-context ones score higher."""
    hits: list[Hit] = []
    for m in _CARD.finditer(text):
        digits = _digits(m.group(1))
        if not 13 <= len(digits) <= 19 or not luhn_is_valid(digits):
            continue
        grouped = not m.group(1).isdigit()
        ctx = _CTX_CARD.search(_before(text, m.start(), 50)) is not None
        hits.append(Hit("CARD", m.start(), m.end(), 2 if grouped or ctx else 1))
    return hits


# --------------------------------------------------------------------------- vehicle plate
# Cars: 29A-123.45, 51F-12345, 30E 123.45, 29LD-012.34, 29A-1234 (old 4-digit).
# Motorbikes: 59-X1 123.45, 59X1-12345, 29-B1 234.56, 59-X1 1234.
_PLATE = re.compile(
    r"(?<![\w.,/\-])"
    r"(?P<pc>\d{2})"
    r"(?:(?P<car>[A-Z]{1,2})|-?(?P<moto>[A-Z][A-Z0-9]))"
    r"[ \-.]{1,2}"
    r"(?P<num>\d{3}\.\d{2}|\d{5}|\d{4})"
    r"(?![\w]|[.,]\d)"
)


def find_plates(text: str) -> list[Hit]:
    """Vietnamese vehicle registration plates (province code 11-99, series, 4-5 digit number)."""
    hits: list[Hit] = []
    for m in _PLATE.finditer(text):
        if not 11 <= int(m.group("pc")) <= 99:
            continue
        hits.append(Hit("PLATE", m.start(), m.end(), 1))
    return hits


# --------------------------------------------------------------------------- health / social insurance
# BHYT card code: 2-letter beneficiary group, benefit level 1-5, 2-digit province, 10-digit BHXH number.
_BHYT = re.compile(
    r"(?<![\w\-])([A-Z]{2})(?P<s1>[ \-]?)([1-5])(?P<s2>[ \-]?)(\d{2})(?P<s3>[ \-]?)(\d{3}[ ]?\d{3}[ ]?\d{4}|\d{10})"
    r"(?![\w]|[.,]\d)"
)
_BHXH = re.compile(_B + r"(\d{10}|\d{2}[ .]\d{4}[ .]\d{4}|\d{4}[ .]\d{3}[ .]\d{3})" + _A)


def find_health_insurance(text: str) -> list[Hit]:
    """BHYT card codes such as DN4010123456789 or HS 4 79 1234567890."""
    hits: list[Hit] = []
    for m in _BHYT.finditer(text):
        # "TK 3100205678912": letters, one space, then a plain number is an account, not a
        # spaced card code (those separate the level and province too: "HS 4 79 ...").
        if m.group("s1") and not (m.group("s2") or m.group("s3")):
            continue
        hits.append(Hit("HEALTH_INSURANCE", m.start(), m.end(), 2))
    return hits


def find_social_insurance(text: str) -> list[Hit]:
    """10-digit BHXH numbers; only with social-insurance context words before them."""
    return [Hit("SOCIAL_INSURANCE", m.start(), m.end(), 2) for m in _BHXH.finditer(text)
            if _CTX_BHXH.search(_before(text, m.start(), 60))]


# --------------------------------------------------------------------------- date of birth
_DATE = (
    r"(?:(?:ngày|ngay)\s+)?(?P<d>\d{1,2})\s*[/.\-]\s*(?P<m>\d{1,2})\s*[/.\-]\s*(?P<y>(?:19|20)\d{2})"
    r"|(?:(?:ngày|ngay)\s+)?(?P<d2>\d{1,2})\s+(?:tháng|thang)\s+(?P<m2>\d{1,2})"
    r"(?:\s*(?:năm|nam|,)\s*(?P<y2>(?:19|20)\d{2}))?"
    r"|(?:(?:tháng|thang)\s+)?(?P<m3>\d{1,2})\s*[/\-]\s*(?P<y3>(?:19|20)\d{2})"
    r"|(?P<y4>(?:19|20)\d{2})"
)
_DOB = re.compile(
    r"(?=[nsdbNSDB])(?i:(?<![\w])(?:ngày,? tháng,? năm sinh|ngày sinh|năm sinh|ngay,? thang,? nam sinh|ngay sinh|nam sinh|"
    r"(?<!học )(?<!phát )(?<!sản )(?<!hy )(?<!vệ )(?<!nữ )(?<!nam )(?<!hồi )(?<!tái )(?<!giáng )(?<!thí )"
    r"(?<!hoc )(?<!phat )(?<!san )(?<!ve )(?<!nu )(?<!hoi )(?<!giang )(?<!thi )"
    r"(?:sinh ngày|sinh năm|sinh tháng|sinh ra (?:vào )?(?:ngày|năm)|sinh ngay|sinh nam|sinh thang|"
    r"sinh ra (?:vao )?(?:ngay|nam)|sinh)|"
    r"dob|d\.o\.b\.?|date of birth|born(?: on| in)?|\bsn))"
    r"\s*[:\-]?\s*(?:là\s+|vào\s+)?"
    r"(?P<date>" + _DATE + r")(?![\w]|[/.\-]\d)"
)


def _date_ok(m: re.Match[str]) -> bool:
    day = m.group("d") or m.group("d2")
    month = m.group("m") or m.group("m2") or m.group("m3")
    if day is not None and not 1 <= int(day) <= 31:
        return False
    return month is None or 1 <= int(month) <= 12


def find_dobs(text: str) -> list[Hit]:
    """Dates of birth: a date (or year) right after a birth context word. Event dates are left alone."""
    return [Hit("DOB", m.start("date"), m.end("date"), 2) for m in _DOB.finditer(text) if _date_ok(m)]


STRUCTURED_DETECTORS: tuple[Callable[[str], list[Hit]], ...] = (
    find_citizen_ids,
    find_passports,
    find_phones,
    find_emails,
    find_ips,
    find_tax_codes,
    find_bank_accounts,
    find_cards,
    find_plates,
    find_health_insurance,
    find_social_insurance,
    find_dobs,
)
