"""A deterministic synthetic Vietnamese web corpus for tests and benchmarks.

``generate_vietnamese_corpus(n, seed)`` returns ``n`` documents mixing what a Vietnamese crawl
contains: news and forum paragraphs (the text we want to keep), short snippets, navigation
menus and footers, bulleted lists, pages with repeated lines, symbol-heavy spam, teaser pages
ending in ellipses, junk, pages with code or "lorem ipsum", English pages, Vietnamese typed
without diacritics, PII-looking strings (phones, e-mails, ID numbers), exact duplicates and
near-duplicates (a few words changed). Every document carries a ``kind`` label saying which
of these it is, so tests can check both keep and drop outcomes.

The vocabulary below is hand-written; sentences are assembled from it with a seeded RNG, so
the same (n, seed) always gives the same corpus, and 20,000 documents take about a second.
"""

from __future__ import annotations

import random

from filters.legacy_encodings import strip_diacritics

__all__ = ["KINDS", "generate_vietnamese_corpus", "strip_diacritics"]

# ----------------------------------------------------------------------------- vocabulary

_TIMES = [
    "Sáng nay", "Chiều qua", "Tối 12/3", "Trong tuần trước", "Đầu năm 2024", "Cuối tháng 10",
    "Hôm thứ Hai", "Từ đầu năm đến nay", "Trong quý III", "Ngày 5/9", "Mới đây", "Gần đây",
]
_SUBJECTS = [
    "Bộ Y tế", "UBND thành phố Hà Nội", "Ngân hàng Nhà nước", "Sở Giáo dục và Đào tạo",
    "Công an tỉnh Quảng Ninh", "Tổng cục Thống kê", "nhiều doanh nghiệp xuất khẩu",
    "người dân các tỉnh miền Trung", "đội tuyển bóng đá Việt Nam", "các nhà khoa học trong nước",
    "Thủ tướng Chính phủ", "Hội đồng nhân dân tỉnh Đồng Nai", "giới chuyên gia kinh tế",
    "học sinh lớp 12", "nông dân đồng bằng sông Cửu Long", "Bệnh viện Bạch Mai",
    "Tập đoàn Điện lực Việt Nam", "các trường đại học", "Ủy ban Chứng khoán Nhà nước",
]
_VERBS = [
    "đã công bố", "vừa triển khai", "đang xem xét", "cho biết sẽ điều chỉnh", "đề xuất tăng cường",
    "đã hoàn thành", "kiến nghị sửa đổi", "bắt đầu thí điểm", "tiếp tục đẩy mạnh", "đã phê duyệt",
    "lên kế hoạch mở rộng", "cảnh báo về", "đánh giá cao", "yêu cầu kiểm tra",
]
_OBJECTS = [
    "kế hoạch phát triển hạ tầng giao thông", "chương trình chuyển đổi số", "chính sách hỗ trợ lãi suất",
    "dự án đường cao tốc Bắc Nam", "phương án tuyển sinh năm học mới", "giá xăng dầu trong nước",
    "tình hình dịch bệnh sốt xuất huyết", "chỉ số giá tiêu dùng", "kết quả thi tốt nghiệp",
    "quy hoạch vùng đồng bằng", "hoạt động xuất khẩu gạo", "thị trường bất động sản",
    "mạng lưới y tế cơ sở", "nguồn vốn đầu tư công", "công tác phòng chống thiên tai",
    "việc bảo tồn di sản văn hóa", "hệ thống đường sắt đô thị", "năng lượng tái tạo",
]
_PLACES = [
    "tại Hà Nội", "ở Thành phố Hồ Chí Minh", "tại Đà Nẵng", "ở Cần Thơ", "tại Hải Phòng",
    "trên địa bàn tỉnh Nghệ An", "ở khu vực Tây Nguyên", "tại Huế", "ở Quảng Ninh", "tại Bình Dương",
]
_DETAILS = [
    "Theo báo cáo, tổng vốn đầu tư dự kiến khoảng {n} nghìn tỷ đồng.",
    "Ông {name}, đại diện đơn vị, cho biết kết quả bước đầu khá khả quan.",
    "Nhiều ý kiến cho rằng cần có thêm thời gian để đánh giá hiệu quả thực tế.",
    "Con số này tăng {p}% so với cùng kỳ năm trước.",
    "Bà {name} nhấn mạnh rằng người dân là trung tâm của mọi chính sách.",
    "Dự kiến chương trình sẽ được nhân rộng ra {n} tỉnh thành trong năm tới.",
    "Các chuyên gia khuyến nghị cần minh bạch thông tin để tạo niềm tin cho thị trường.",
    "Đây là lần đầu tiên một mô hình như vậy được áp dụng ở quy mô lớn.",
    "Trước đó, cơ quan chức năng đã tổ chức nhiều cuộc họp để lấy ý kiến góp ý.",
    "Theo thống kê, khoảng {n} nghìn hộ gia đình đã được hưởng lợi từ chương trình.",
    "Lãnh đạo địa phương cam kết sẽ tháo gỡ khó khăn cho doanh nghiệp trong thời gian sớm nhất.",
    "Tuy nhiên, việc triển khai vẫn gặp nhiều vướng mắc về thủ tục và mặt bằng.",
    "Kết quả khảo sát cho thấy phần lớn người tham gia hài lòng với chất lượng dịch vụ.",
    "Năm nay, thời tiết diễn biến phức tạp khiến sản lượng nông nghiệp giảm nhẹ.",
]
_NAMES = [
    "Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Long", "Phạm Minh Tuấn", "Hoàng Thu Hà",
    "Vũ Đức Thắng", "Đặng Ngọc Lan", "Bùi Quang Huy", "Đỗ Thanh Tâm", "Ngô Bảo Châu",
]
_FORUM_OPENERS = [
    "Mọi người cho em hỏi chút ạ.", "Chào cả nhà, mình mới tham gia diễn đàn.",
    "Theo kinh nghiệm của mình thì thế này.", "Bác nào có kinh nghiệm tư vấn giúp em với.",
    "Cảm ơn bạn đã chia sẻ, bài viết rất hữu ích.", "Mình thấy vấn đề này cũng đáng bàn.",
]
_FORUM_BODY = [
    "Em đang định mua một chiếc xe máy để đi làm hằng ngày nhưng chưa biết nên chọn loại nào.",
    "Nhà mình ở quận Cầu Giấy, sáng nào đi làm cũng tắc đường gần một tiếng đồng hồ.",
    "Con mình năm nay vào lớp một, mình đang phân vân giữa trường công và trường tư.",
    "Mình đã thử nấu phở theo công thức trên mạng nhưng nước dùng vẫn chưa được trong.",
    "Giá thuê nhà ở trung tâm bây giờ cao quá, lương tháng gần như chỉ đủ trả tiền phòng.",
    "Theo mình thì nên tìm hiểu kỹ hợp đồng trước khi đặt cọc, tránh mất tiền oan.",
    "Mình dùng điện thoại này được hai năm rồi, pin vẫn khá ổn và camera chụp đẹp.",
    "Có ai biết chỗ nào sửa máy giặt uy tín ở khu vực Thủ Đức không ạ?",
    "Tuần trước cả nhà mình đi Đà Lạt, thời tiết mát mẻ nhưng hơi đông khách du lịch.",
    "Mình nghĩ việc học thêm tiếng Anh từ sớm là cần thiết nhưng không nên ép trẻ quá.",
    "Bạn nên đi khám ở bệnh viện lớn để được chẩn đoán chính xác, đừng tự mua thuốc uống.",
    "Công ty mình đang tuyển nhân viên kế toán, ai quan tâm thì nhắn tin cho mình nhé!",
]
_FORUM_WHO = [
    "Mình", "Em", "Vợ mình", "Anh trai em", "Bố mẹ mình", "Hàng xóm nhà em", "Đồng nghiệp của mình",
    "Thằng bạn thân", "Cả nhóm bọn mình", "Con gái mình",
]
_FORUM_DID = [
    "vừa mua", "đang tìm hiểu về", "đã thử", "rất thích", "không hài lòng với", "định bán lại",
    "mới đăng ký", "hay đi ăn ở", "vừa chuyển sang dùng", "đang cân nhắc",
]
_FORUM_WHAT = [
    "một căn hộ chung cư ở Long Biên", "chiếc laptop cũ của hãng Dell", "quán bún chả đầu ngõ",
    "khóa học lập trình buổi tối", "gói cước internet mới", "một con mèo Anh lông ngắn",
    "dịch vụ giao hàng của bên này", "mẫu xe điện vừa ra mắt", "lớp học bơi cho trẻ em",
    "căn phòng trọ gần trường đại học", "bộ bàn ghế gỗ sồi", "tour du lịch Phú Quốc ba ngày",
]
_FORUM_END = [
    " tháng trước.", " và thấy khá ổn.", ", giá cũng hợp lý.", " nhưng vẫn còn nhiều điều băn khoăn.",
    ", mọi người thấy sao?", " từ hồi đầu năm.", ", chất lượng tốt hơn mình nghĩ.", " mà chưa thấy phản hồi.",
]
_MENU = [
    "Trang chủ", "Thời sự", "Thế giới", "Kinh doanh", "Giải trí", "Thể thao", "Pháp luật",
    "Giáo dục", "Sức khỏe", "Đời sống", "Du lịch", "Khoa học", "Số hóa", "Xe", "Ý kiến",
    "Tâm sự", "Liên hệ", "Đăng nhập", "Đăng ký", "Tìm kiếm", "Video", "Podcast",
]
_FOOTER = [
    "Bản quyền © 2024 Báo điện tử. Ghi rõ nguồn khi phát hành lại thông tin từ website này.",
    "Giấy phép số 548/GP-BTTTT do Bộ Thông tin và Truyền thông cấp.",
    "Website sử dụng cookie để cải thiện trải nghiệm. Xem chính sách bảo mật.",
    "Tổng biên tập: Nguyễn Văn B. Địa chỉ: 123 Đường Láng, Đống Đa, Hà Nội.",
]
_LIST_ITEMS = [
    "Giảm giá 50% cho đơn hàng đầu tiên", "Miễn phí vận chuyển toàn quốc", "Bảo hành chính hãng 12 tháng",
    "Đổi trả trong vòng 7 ngày", "Thanh toán khi nhận hàng", "Hỗ trợ trả góp 0%",
    "Tặng kèm phụ kiện cao cấp", "Giao hàng nhanh trong 2 giờ", "Tích điểm đổi quà hấp dẫn",
    "Ưu đãi dành riêng cho thành viên",
]
_SPAM_WORDS = [
    "GIẢM GIÁ", "SỐC", "HOT", "MUA NGAY", "khuyến mãi", "sale", "FREESHIP", "xả kho", "giá rẻ", "100%",
]
_TEASERS = [
    "Bí quyết giúp bạn giảm cân nhanh chóng mà không cần", "Sự thật đằng sau vụ việc gây xôn xao",
    "Chuyên gia tiết lộ cách chọn nhà đất không bao giờ", "Cô gái trẻ bất ngờ khi phát hiện ra",
    "5 thói quen buổi sáng khiến bạn", "Giá vàng hôm nay biến động mạnh, nhà đầu tư",
]
_EN_SENTENCES = [
    "The city council approved a new budget for public transport on Monday.",
    "Researchers say the findings could help farmers adapt to a changing climate.",
    "Shares of technology companies rose sharply after the earnings reports.",
    "The festival attracts thousands of visitors from around the world every year.",
    "Officials warned that heavy rain could cause flooding in low-lying areas.",
    "The new policy aims to reduce traffic congestion in the city centre.",
    "Students will be able to apply online starting next week.",
    "Experts recommend drinking plenty of water during the hot season.",
]
_JUNK_CHARS = "▓▒░■□▪▫◆◇○●★☆♦♣♠♥¤§¶†‡•※"
_DOMAINS = ["vnexpress.net", "tuoitre.vn", "thanhnien.vn", "dantri.com.vn", "vietnamnet.vn",
            "webtretho.com", "voz.vn", "tinhte.vn", "shopee-deal.vn", "rao-vat-24h.com"]
_EMAIL_USERS = ["nguyen.van.an", "tranbich88", "hoang.long", "lan.dang", "minhtuan.pham"]
_EMAIL_HOSTS = ["gmail.com", "yahoo.com.vn", "example.vn", "fpt.com.vn"]

#: Document kinds and their relative weights in the mix.
KINDS: dict[str, float] = {
    "news": 0.30, "forum": 0.12, "news_pii": 0.05, "short": 0.06, "menu": 0.05, "list": 0.05,
    "repeated": 0.05, "spam": 0.04, "ellipsis": 0.04, "junk": 0.03, "code": 0.02, "lorem": 0.01,
    "english": 0.04, "no_diacritics": 0.04, "exact_dup": 0.05, "near_dup": 0.05,
}


# ----------------------------------------------------------------------------- builders

def _fill(rng: random.Random, template: str) -> str:
    return template.format(n=rng.randint(2, 900), p=rng.randint(2, 45), name=rng.choice(_NAMES))


def _news_sentence(rng: random.Random) -> str:
    if rng.random() < 0.45:
        return _fill(rng, rng.choice(_DETAILS))
    return f"{rng.choice(_TIMES)}, {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} " \
           f"{rng.choice(_PLACES)}."


def _unique(rng: random.Random, make, used: set[str]) -> str:
    """A sentence not yet used in this document (real pages rarely repeat sentences)."""
    for _ in range(8):
        sentence = make(rng)
        if sentence not in used:
            break
    used.add(sentence)
    return sentence


def _paragraph(rng: random.Random, sentences: int, used: set[str] | None = None) -> str:
    used = set() if used is None else used
    return " ".join(_unique(rng, _news_sentence, used) for _ in range(sentences))


def _news(rng: random.Random) -> str:
    subject = rng.choice(_SUBJECTS)
    title = f"{subject[0].upper()}{subject[1:]} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
    used: set[str] = set()
    paras = [_paragraph(rng, rng.randint(3, 6), used) for _ in range(rng.randint(3, 7))]
    return "\n".join([title, *paras])


def _forum_sentence(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return rng.choice(_FORUM_BODY)
    return f"{rng.choice(_FORUM_WHO)} {rng.choice(_FORUM_DID)} {rng.choice(_FORUM_WHAT)}{rng.choice(_FORUM_END)}"


def _forum(rng: random.Random) -> str:
    used: set[str] = set()
    posts = []
    for _ in range(rng.randint(3, 6)):
        body = [_unique(rng, _forum_sentence, used) for _ in range(rng.randint(2, 5))]
        posts.append(" ".join([rng.choice(_FORUM_OPENERS), *body]))
    return "\n\n".join(posts)


def _phone(rng: random.Random) -> str:
    prefix = rng.choice(["091", "098", "090", "097", "088", "035"])
    style = rng.randrange(3)
    digits = f"{rng.randint(0, 9999999):07d}"
    if style == 0:
        return f"{prefix}{digits[0]} {digits[1:4]} {digits[4:]}"
    if style == 1:
        return f"+84 {prefix[1:]} {digits[:3]} {digits[3:]}"
    return f"{prefix}.{digits[:3]}.{digits[3:]}"


def _news_pii(rng: random.Random) -> str:
    email = f"{rng.choice(_EMAIL_USERS)}{rng.randint(1, 99)}@{rng.choice(_EMAIL_HOSTS)}"
    contact = (f"Mọi thông tin xin liên hệ ông {rng.choice(_NAMES)} qua số điện thoại {_phone(rng)} "
               f"hoặc địa chỉ thư điện tử {email} để được hỗ trợ.")
    extra = f"Số căn cước công dân của người khai báo là 0{rng.randint(10**10, 10**11 - 1)}."
    return _news(rng) + "\n" + contact + (" " + extra if rng.random() < 0.5 else "")


def _short(rng: random.Random) -> str:
    return rng.choice([_news_sentence(rng), rng.choice(_FORUM_BODY), " ".join(rng.sample(_MENU, 3))])


def _menu(rng: random.Random) -> str:
    lines = rng.sample(_MENU, rng.randint(8, 16))
    if rng.random() < 0.5:
        lines += rng.sample(_FOOTER, 2)
    return "\n".join(lines)


def _list(rng: random.Random) -> str:
    bullet = rng.choice(["- ", "• ", "-", "• "])
    items = [bullet + it for it in rng.sample(_LIST_ITEMS, rng.randint(5, 10))]
    if rng.random() < 0.3:
        items.insert(0, "Ưu đãi tháng này:")
    return "\n".join(items)


def _repeated(rng: random.Random) -> str:
    line = _news_sentence(rng)
    other = [_news_sentence(rng) for _ in range(rng.randint(1, 3))]
    lines = [line] * rng.randint(4, 10) + other
    rng.shuffle(lines)
    return "\n".join(lines)


def _spam(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(15, 40)):
        r = rng.random()
        if r < 0.4:
            parts.append("#" + rng.choice(_SPAM_WORDS).replace(" ", "").lower())
        elif r < 0.7:
            parts.append(rng.choice(_SPAM_WORDS) + rng.choice(["!!!", "$$$", " >>>", " ***", "!!"]))
        else:
            parts.append(rng.choice(["☎", "👉", "🔥", "$$$", "%%%", "@@", "==>"]) + " " + _phone(rng))
    return " ".join(parts)


def _ellipsis(rng: random.Random) -> str:
    lines = [t + rng.choice(["...", "…", " ..."]) for t in rng.sample(_TEASERS, rng.randint(3, 6))]
    if rng.random() < 0.5:
        lines.append(_paragraph(rng, 2))
    return "\n".join(lines)


def _junk(rng: random.Random) -> str:
    rows = []
    for _ in range(rng.randint(3, 12)):
        row = "".join(rng.choice(_JUNK_CHARS + "0123456789|/\\-_=+") for _ in range(rng.randint(5, 60)))
        rows.append(row)
    return "\n".join(rows)


def _code(rng: random.Random) -> str:
    intro = _paragraph(rng, rng.randint(3, 5))
    code = ("function hienThi(x) { return x * 2; }\n"
            "Đoạn mã trên dùng javascript để xử lý dữ liệu người dùng {ví dụ}.")
    return intro + "\n" + code + "\n" + _paragraph(rng, 2)


def _lorem(rng: random.Random) -> str:
    return (_paragraph(rng, 3) + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n"
            + _paragraph(rng, 3))


def _english(rng: random.Random) -> str:
    paras = [" ".join(rng.sample(_EN_SENTENCES, rng.randint(3, 5))) for _ in range(rng.randint(2, 4))]
    return "\n".join(paras)


def _no_diacritics(rng: random.Random) -> str:
    return strip_diacritics(_news(rng) if rng.random() < 0.6 else _forum(rng))


def _near_dup(rng: random.Random, source: str) -> str:
    words = source.split(" ")
    for _ in range(rng.randint(2, 5)):
        i = rng.randrange(len(words))
        words[i] = rng.choice(["mới", "lớn", "nhiều", "quan trọng", "đáng chú ý", "hơn"])
    return " ".join(words)


_BUILDERS = {
    "news": _news, "forum": _forum, "news_pii": _news_pii, "short": _short, "menu": _menu,
    "list": _list, "repeated": _repeated, "spam": _spam, "ellipsis": _ellipsis, "junk": _junk,
    "code": _code, "lorem": _lorem, "english": _english, "no_diacritics": _no_diacritics,
}


def generate_vietnamese_corpus(n_docs: int, seed: int = 0) -> list[dict]:
    """``n_docs`` documents as ``{"id", "text", "url", "kind"}`` dicts, deterministic in ``seed``.

    Duplicates copy (``exact_dup``) or lightly edit (``near_dup``) an earlier news or forum
    document; before any exists, a fresh news document is generated instead.
    """
    rng = random.Random(seed)
    kinds, weights = list(KINDS), list(KINDS.values())
    docs: list[dict] = []
    originals: list[str] = []
    for i in range(n_docs):
        kind = rng.choices(kinds, weights)[0]
        if kind in ("exact_dup", "near_dup") and not originals:
            kind = "news"
        if kind == "exact_dup":
            text = rng.choice(originals)
        elif kind == "near_dup":
            text = _near_dup(rng, rng.choice(originals))
        else:
            text = _BUILDERS[kind](rng)
            if kind in ("news", "forum", "news_pii"):
                originals.append(text)
        domain = rng.choice(_DOMAINS)
        docs.append({"id": f"vi-{seed}-{i:07d}", "text": text,
                     "url": f"https://{domain}/{kind.replace('_', '-')}-{i}.html", "kind": kind})
    return docs
