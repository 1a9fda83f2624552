"""Character classes for Vietnamese capitalisation, shared by the name and address rules.

Python's ``re`` has no ``\\p{Lu}``; these classes list the Vietnamese letters explicitly
(NFC, precomposed) so a "capitalised syllable" is an upper-case letter followed by
lower-case letters only: ``Nguyễn`` and ``A`` qualify, ``TP`` and ``UBND`` do not.
"""

from __future__ import annotations

_VOWELS_UPPER = (
    "AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬEÈÉẺẼẸÊỀẾỂỄỆIÌÍỈĨỊOÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢUÙÚỦŨỤƯỪỨỬỮỰYỲÝỶỸỴ"
)
UPPER_CHARS = "BCDFGHJKLMNPQRSTVWXZĐ" + _VOWELS_UPPER
LOWER_CHARS = UPPER_CHARS.lower()

UPPER = "[" + UPPER_CHARS + "]"
LOWER = "[" + LOWER_CHARS + "]"
# One capitalised syllable, not followed by more word characters (so "TPHCM" is not one).
CAP_SYL = UPPER + LOWER + r"*(?![\w])"
# One to five capitalised syllables separated by single spaces.
CAP_SEQ = CAP_SYL + r"(?: " + CAP_SYL + r"){0,4}"
# Two to five capitalised syllables (a street or full personal name).
CAP_SEQ2 = CAP_SYL + r"(?: " + CAP_SYL + r"){1,4}"
