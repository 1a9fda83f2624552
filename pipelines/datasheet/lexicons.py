"""The word lists behind the datasheet's text indicators: dialect markers, gender terms, topics.

How they were chosen: by hand, from common knowledge of Vietnamese, keeping only words that
(a) are frequent in everyday written Vietnamese of one region and (b) are rare as ordinary
words elsewhere. They were not validated against a labelled corpus of regional text; every
figure built on them is an *indicator* to compare versions with, not a measurement of who
wrote the text. Known limits are stated next to each list and copied into the datasheet.

Matching is on whole words (consecutive syllables), case-folded, after Unicode NFC
normalisation. Short markers are ambiguous by nature ("mô" is also the standard word in
"mô hình"), which is why a region counts for a document only from ``MIN_MARKERS`` distinct
markers on.
"""

from __future__ import annotations

#: Lexical markers of the three broad dialect regions. The southern "ba"/"má" and central
#: "mô"/"tê"/"răng" are also standard words (ba = three, má = cheek, răng = tooth, mô = tissue),
#: so a region counts for a document only when it has MIN_MARKERS distinct marker hits.
DIALECT_MARKERS: dict[str, tuple[str, ...]] = {
    "northern": ("bố", "mẹ", "vâng", "thế nào", "bây giờ", "cái gì", "thế à", "ạ", "chúng tớ", "ra phết"),
    "central": ("mô", "tê", "răng", "rứa", "chừ", "ni", "nớ", "mần", "hỉ", "chi rứa"),
    "southern": ("ba", "má", "dạ", "hổng", "nhiêu", "hông", "nè", "vậy đó", "tụi", "quá trời"),
}
MIN_MARKERS = 2

DIALECT_METHOD = (
    "Hand-written lists of about ten lexical markers per region (northern, central, southern), "
    "chosen from common knowledge of Vietnamese as words frequent in one region's everyday "
    "writing and rare elsewhere; not validated on labelled regional text. A document counts for "
    f"a region when at least {MIN_MARKERS} distinct markers of that region occur in it as whole "
    "words (case-folded); a document may count for several regions or none.")
DIALECT_LIMITS = (
    "Indicative only. Several markers are also standard words (ba 'three', má 'cheek', răng "
    "'tooth', mô 'tissue'), written Vietnamese is mostly standard whatever the writer's region, "
    "and news or formal text carries few markers at all, so most documents match no region.")

#: Gender terms: person references that are clearly male or female. "ông"/"bà"/"cô"/"chú" are
#: also kinship and address terms and, for "cô", part of other words; counted as whole words.
GENDER_TERMS: dict[str, tuple[str, ...]] = {
    "male": ("anh ấy", "ông", "chú", "đàn ông", "nam giới", "con trai", "cậu ấy", "bố", "cha"),
    "female": ("chị ấy", "bà", "cô", "phụ nữ", "nữ giới", "con gái", "cô ấy", "mẹ", "má"),
}
GENDER_METHOD = ("Occurrences of hand-picked male and female person terms as whole words "
                 "(case-folded); ratio = male / female occurrences.")
GENDER_LIMITS = ("Counts words, not people: address and kinship terms (ông, bà, cô, chú) are used "
                 "for strangers and in idioms, 'bà con' means 'folks', and a text about one woman "
                 "can mention her many times. A signal of imbalance in who is talked about, no more.")

#: Topic keywords: a document gets the topic with most keyword hits (ties: first listed);
#: none when no keyword occurs.
TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "thể thao": ("bóng đá", "cầu thủ", "đội tuyển", "giải đấu", "huấn luyện viên", "vô địch", "thi đấu", "thể thao"),
    "kinh tế": ("kinh tế", "doanh nghiệp", "thị trường", "xuất khẩu", "giá", "ngân hàng", "đầu tư", "lãi suất"),
    "chính trị": ("quốc hội", "chính phủ", "đại biểu", "bộ trưởng", "nghị quyết", "chính sách", "ủy ban"),
    "giáo dục": ("học sinh", "sinh viên", "giáo viên", "trường học", "đại học", "giáo dục", "thi tốt nghiệp"),
    "y tế": ("bệnh viện", "bác sĩ", "bệnh nhân", "y tế", "sức khỏe", "điều trị", "vắc xin"),
    "công nghệ": ("công nghệ", "phần mềm", "trí tuệ nhân tạo", "điện thoại", "internet", "dữ liệu", "chuyển đổi số"),
    "giải trí": ("ca sĩ", "phim", "âm nhạc", "nghệ sĩ", "lễ hội", "diễn viên", "du lịch"),
}
TOPIC_METHOD = ("Keyword classifier, not a model: each document gets the topic whose hand-picked "
                "Vietnamese keywords occur most often in it (whole words, case-folded); 'khác' "
                "(other) when none occurs.")
TOPIC_LIMITS = ("Keywords miss paraphrases and mis-assign documents that mention a topic in "
                "passing; the topic list is short and covers news-like text best.")
OTHER_TOPIC = "khác"
