"""PII written to get past filters, in forms the first labelled set under-represented (issue 10):
phone numbers typed digit by digit, the 11-digit mobile plan retired in 2018, country codes in
odd spacing, spelled-out e-mail addresses, names typed without diacritics (with and without a
cue), and the opposite error: historical figures, places named after people and office holders
named with their office, which are not personal data. Also: every rule stays linear on
adversarial input, and the detector's precision/recall on the held-out set written apart from
the tuning sentences (tests/data/pii_heldout.jsonl)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import phonenumbers
import pytest

from filters.pii import PiiDetector, redact
from filters.pii_eval import evaluate, format_table
from filters.pii_rules import OLD_MOBILE_PREFIXES, find_emails, find_phones

HELDOUT = Path(__file__).parent / "data" / "pii_heldout.jsonl"


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector()


def found(det: PiiDetector, text: str) -> list[tuple[str, str]]:
    return [(f.type, f.text) for f in det.find_pii(text)]


def phones(text: str) -> list[str]:
    return [text[h.start:h.end] for h in find_phones(text)]


def emails(text: str) -> list[str]:
    return [text[h.start:h.end] for h in find_emails(text)]


# ---------------------------------------------------------------- phone digit by digit
@pytest.mark.parametrize("number", [
    "0 9 1 2 3 4 5 6 7 8", "0.9.1.2.3.4.5.6.7.8", "0-3-6-5-9-8-7-1-2-4", "0_9_1_8_5_5_4_4_3_3",
    "0 . 9 . 1 . 3 . 5 . 7 . 9 . 2 . 4 . 6", "0 3 5 8 - 4 4 1 - 2 9 0", "09_86_45_32_10", "09 0 8 7 6 5 4 3 2",
    "0 2 8 3 9 1 0 1 2 3 4",  # a landline, 028 3910 1234
])
def test_phone_typed_digit_by_digit_is_found_whole(number: str) -> None:
    assert phones(f"Liên hệ {number} nhé") == [number]
    assert phones(f"sdt {number}") == [number]


def test_spaced_phone_is_redacted_in_full(detector: PiiDetector) -> None:
    text = "Cho thuê xe, gọi 0 9 7 2 1 1 3 3 5 5 gặp anh Tài."
    findings = detector.find_pii(text)
    assert redact(text, findings) == "Cho thuê xe, gọi <PHONE> gặp anh <NAME>."


def test_spaced_phone_after_an_unrelated_number_is_found() -> None:
    assert phones("Năm 2023 0 9 1 2 3 4 5 6 7 8 là số mới") == ["0 9 1 2 3 4 5 6 7 8"]


@pytest.mark.parametrize("text", [
    "Kết quả xổ số miền Bắc: 09 12 34 56 78 90.",           # a list of small numbers that validates
    "Vietlott Mega 6/45: 05 12 23 34 40 44.",
    "Dãy 23 09 12 34 56 78 trúng giải.",
    "Mã OTP 0 9 1 2 không chia sẻ cho ai.",
    "Dãy số may mắn hôm nay là 0 7 3 9 1.",
    "Đếm: 0 1 2 3 4 5 6 7 8 9 10 11 12.",
    "Sơ đồ 4-4-2, tỷ số 0-0, hiệp hai 1-0.",
    "Giá 0.99 USD, phiên bản 0.9.1.2.",
])
def test_lists_of_small_numbers_are_not_phones(text: str) -> None:
    assert phones(text) == []


def test_two_numbers_in_one_chain_are_two_phones() -> None:
    assert phones("Gọi 0912 345 678 - 0987 654 321 nhé") == ["0912 345 678", "0987 654 321"]
    assert phones("Gọi 0912345678 0987654321 nhé") == ["0912345678", "0987654321"]


def test_phone_followed_by_office_hours_is_still_a_phone() -> None:
    assert phones("Gọi 0912 345 678 giờ hành chính") == ["0912 345 678"]
    assert phones("Giá 0912345678 đồng") == []  # a currency after it: an amount


# ---------------------------------------------------------------- the 11-digit plan retired in 2018
# Old prefix -> the prefix it was converted to (MIC plan, 15/9/2018 - 2019).
OLD_TO_NEW = {
    "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
    "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
    "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
    "186": "56", "188": "58", "199": "59",
}


def test_old_prefix_table_is_the_conversion_plan() -> None:
    assert OLD_MOBILE_PREFIXES == frozenset(OLD_TO_NEW)
    for old, new in OLD_TO_NEW.items():
        # libphonenumber knows only the new numbers: the converted one is valid, the old one is not
        assert phonenumbers.is_valid_number(phonenumbers.parse(f"0{new}1234567", "VN")), new
        assert not phonenumbers.is_valid_number(phonenumbers.parse(f"0{old}1234567", "VN")), old


@pytest.mark.parametrize("old", sorted(OLD_TO_NEW))
def test_every_old_11_digit_mobile_prefix_is_found(old: str) -> None:
    for form in (f"0{old}1234567", f"0{old} 123 4567", f"0{old}.123.4567", f"+84 {old} 123 4567"):
        assert phones(f"Số cũ {form}, giờ đã đổi.") == [form]


@pytest.mark.parametrize("number", ["0161 234 5678", "0187 234 5678", "0189 234 5678", "0130 234 5678",
                                    "0123 456 789", "01234567890123"])
def test_never_assigned_or_wrong_length_old_numbers_are_not_phones(number: str) -> None:
    assert phones(f"Số {number} không có thật.") == []


def test_old_mobile_with_bank_context_is_an_account(detector: PiiDetector) -> None:
    assert found(detector, "STK 01234567890 Vietcombank") == [("BANK_ACCOUNT", "01234567890")]


# ---------------------------------------------------------------- country codes in odd spacing
@pytest.mark.parametrize("number", [
    "+84 91 234 5678", "(+84) 912.345.678", "84-912-345-678", "+ 84 912 000 333", "(84) 913 222 444",
    "+84 (0) 912 345 679", "+84-(0)98-765-4321", "+84.97.123.45.67", "0084 28 3930 5555", "+84 28 3822 9999",
    "+84 3 8 9 1 2 3 4 5 6", "(+84) 165 432 1098", "+84 0912 345 678",
])
def test_country_code_in_any_spacing_is_found(number: str) -> None:
    assert phones(f"Liên hệ {number} nhé") == [number]


# ---------------------------------------------------------------- spelled-out e-mail addresses
@pytest.mark.parametrize("address", [
    "tuyendung.abc [at] gmail [dot] com", "hr(at)congtyxyz.vn", "linh.vu (at) yahoo (dot) com",
    "kinhdoanh[at]noithat-an-phat.com.vn", "bantin.lop12a@gmail chấm com", "phamtuan1990 @ gmail . com",
    "docs.share[@]outlook.com", "thanhhuong.95 a còng gmail chấm com", "ngocanh.le a cong gmail cham com",
    "minhchau a móc outlook chấm com", "support AT vietsoft DOT vn", "dat.nguyen(a)gmail.com",
    "muahang{at}congtyabc.vn", "nv.long at gmail dot com", "nam.nguyen at gmail.com", "nam.tran a còng gmail",
])
def test_spelled_out_email_is_found_whole(address: str, detector: PiiDetector) -> None:
    assert emails(f"Mail: {address} nhé") == [address]
    assert found(detector, f"Liên hệ {address}.") == [("EMAIL", address)]


@pytest.mark.parametrize("text", [
    "Ký hiệu @ được người Việt gọi là a còng hoặc a móc.",
    "Chấm công xong mới được về, mai chấm điểm thi đua.",
    "Gmail chấm com là tên miền nhiều người dùng.",
    "Please email us at example.com for details.",
    "Meet me at gmail office tomorrow.",
    "Trang web chấm com đầu tiên ra đời năm 1985.",
    "Ngồi cà phê at home cả ngày.",
])
def test_words_that_spell_at_or_dot_are_not_emails(text: str) -> None:
    assert emails(text) == []


def test_plain_email_is_found_once() -> None:
    assert emails("Gửi về tuyendung.hr@gmail.com.") == ["tuyendung.hr@gmail.com"]


# ---------------------------------------------------------------- names typed without diacritics
@pytest.mark.parametrize("text, name", [
    ("nguyen van an goi lai cho minh nhe", "nguyen van an"),
    ("hom nay le van duc nghi om", "le van duc"),
    ("nho vo thi thu ha goi lai cho co chu nhiem", "vo thi thu ha"),
    ("hom qua tran thi mai bao la se chuyen khoan", "tran thi mai"),   # "bao" is the next word (báo)
    ("toi la ngo duc tai, sinh vien nam 3", "ngo duc tai"),
    ("Nguyen Van An goi lai cho minh", "Nguyen Van An"),
    ("chi Hanh oi, mai em qua lay do nha", "Hanh"),
    ("Kinh gui ong Doan Van Hau, truong phong", "Doan Van Hau"),
    ("Ho ten: Dang Van Lam; ngay sinh: 13/08/1993", "Dang Van Lam"),
    ("Zalo/DT: 0901 23 45 67 (chi Nhung), khong tiep co", "Nhung"),
    ("ho ten nguoi benh: do thi hong", "do thi hong"),            # a form label takes lower case
    ("toi ten la khoi, nam nay hoc lop 9", "khoi"),
    ("ong phan van duc xuat trinh the can cuoc", "phan van duc"),  # "phan van" + a given name
])
def test_unaccented_names_are_found(detector: PiiDetector, text: str, name: str) -> None:
    assert [f.text for f in detector.find_pii(text) if f.type == "NAME"] == [name]


@pytest.mark.parametrize("text", [
    "tu van vien se goi lai cho ban trong 24h",            # tư vấn
    "minh van phan van giua hai mau xe",                     # phân vân
    "khu do thi moi dang xay dung rat dep",                  # đô thị
    "do van hoa moi vung khac nhau",                         # văn hóa
    "che do bao hanh 12 thang cho moi san pham",             # chế độ
    "vo minh dang nau com, lat minh goi lai",                # vợ mình đang
    "ho gia dinh nao cung duoc ho tro",                      # hộ gia đình
    "nen kinh te thi truong dinh huong xa hoi chu nghia",    # thị trường định hướng
    "muc do hai long cua khach hang tang len",               # mức độ hài lòng
    "em dang thi cuoi ky nen chua tra loi",                  # đang thi
    "minh dang phan van lam, chua biet chon gi",             # phân vân lắm
    "he thong duong sat do thi tai ha noi",                  # đô thị tại
    "phap luat phan anh dung doi song",                      # phản ánh đúng
    "chung toi co Tet rat vui",                              # có Tết
    "Uy ban Thuong vu Quoc hoi hop phien thu 20",            # Ủy ban Thường vụ
    "nguoi dan chong My cuu nuoc",                           # chống Mỹ
    "Cao Bang noi tieng voi thac Ban Gioc",                  # a province
    "Truong Dai hoc Bach khoa tuyen sinh",                   # Trường Đại học
    "Tong Bi thu chu tri hoi nghi",                          # Tổng Bí thư
])
def test_ordinary_unaccented_text_has_no_names(detector: PiiDetector, text: str) -> None:
    assert [f.text for f in detector.find_pii(text) if f.type == "NAME"] == []


def test_lower_case_rules_do_not_fire_in_accented_text(detector: PiiDetector) -> None:
    # the same letters in an accented sentence are ordinary ASCII words only by accident
    text = "Bài viết nguyen van an được gõ không dấu giữa câu có dấu."
    assert [f.text for f in detector.find_pii(text) if f.type == "NAME"] == []


def test_unaccented_line_in_an_accented_page_gets_the_unaccented_rules(detector: PiiDetector) -> None:
    text = "Bình luận của độc giả về bài viết hôm qua:\nnguyen van hung goi lai cho minh gap nhe ban oi"
    assert [f.text for f in detector.find_pii(text) if f.type == "NAME"] == ["nguyen van hung"]


# ---------------------------------------------------------------- not personal data: places, history, office
@pytest.mark.parametrize("text", [
    "Cửa hàng mới khai trương trên đường Trần Hưng Đạo.",
    "Con tôi học trường Lê Quý Đôn từ lớp 6.",
    "Phố Hai Bà Trưng đông đúc, quận Hoàn Kiếm cấm xe.",
    "Năm 1288, Trần Hưng Đạo đánh tan quân Nguyên.",
    "Lê Lợi lên ngôi năm 1428.",
    "Bác Hồ ra đi tìm đường cứu nước năm 1911.",
    "Khu di tích Kim Liên là quê nội của Chủ tịch Hồ Chí Minh.",
    "Ngã tư Nguyễn Văn Linh – Nguyễn Hữu Thọ kẹt xe.",
    "Sân vận động nằm gần đường Lý Thường Kiệt và Đào Duy Từ.",
    "Các tuyến phố Lê Thái Tổ, Hàng Khay, Đinh Tiên Hoàng cấm xe.",
    "Ngôi trường mang tên Nguyễn Trãi có 2000 học sinh.",
    "Nguyễn Du sinh năm 1765 ở Nghi Xuân.",
    "Duong Tran Hung Dao dang sua, di duong khac nhe",
    "Vua Quang Trung dai pha quan Thanh nam 1789",
])
def test_historical_figures_and_places_named_after_them_are_not_names(detector: PiiDetector, text: str) -> None:
    assert [f.text for f in detector.find_pii(text) if f.type == "NAME"] == []


@pytest.mark.parametrize("text", [
    "Thủ tướng Phạm Minh Chính chủ trì phiên họp Chính phủ.",
    "Bộ trưởng Bộ Giáo dục và Đào tạo Nguyễn Kim Sơn trả lời chất vấn.",
    "Chủ tịch UBND tỉnh Quảng Ninh Cao Tường Huy kiểm tra công tác phòng chống bão.",
    "Tổng thống Pháp Emmanuel Macron thăm Việt Nam.",
    "Đại sứ Việt Nam tại Nhật Bản Phạm Quang Hiệu trao quà.",
    "Thu tuong Pham Minh Chinh chu tri hoi nghi truc tuyen",
])
def test_office_holders_named_with_their_office_are_not_names(detector: PiiDetector, text: str) -> None:
    assert [f.text for f in detector.find_pii(text) if f.type == "NAME"] == []


@pytest.mark.parametrize("text, name", [
    ("Cháu Lê Lợi, 6 tuổi, đi lạc ở công viên.", "Lê Lợi"),                 # a private cue
    ("Anh Nguyễn Văn Trỗi, tài xế xe ôm, trả lại ví cho khách.", "Nguyễn Văn Trỗi"),
    ("Liên hệ ông Lê Lợi theo số 0912 444 555 để xem nhà.", "Lê Lợi"),       # contact details
    ("Mất ví có CCCD mang tên Lê Lợi số 048201009876.", "Lê Lợi"),
    ("Thủ tướng yêu cầu làm rõ trách nhiệm của ông Nguyễn Văn Hòa.", "Nguyễn Văn Hòa"),  # not his office
    ("Ông Phạm Minh Chính đã gặp bà Trần Thị Hoa.", "Phạm Minh Chính"),      # no office named
])
def test_namesakes_and_names_without_office_stay_names(detector: PiiDetector, text: str, name: str) -> None:
    assert name in [f.text for f in detector.find_pii(text) if f.type == "NAME"]


# ---------------------------------------------------------------- linear on adversarial input
def _adversarial() -> dict[str, str]:
    rng = random.Random(10)
    return {
        "random digits, dots, spaces": "".join(rng.choice("0123456789. ") for _ in range(100_000)),
        "random digits and separators": "".join(rng.choice("0123456789.-_ ") for _ in range(100_000)),
        "zero space": "0 " * 50_000,
        "zero dot": "0." * 50_000,
        "one long number": "0" * 100_000,
        "spelled-out tokens": "ab [at] cd (dot) a còng chấm " * 3_500,
        "spaced at": "x @ y . " * 12_500,
    }


@pytest.mark.parametrize("name", list(_adversarial()))
def test_adversarial_100kb_inputs_complete(detector: PiiDetector, name: str) -> None:
    text = _adversarial()[name]
    findings = detector.find_pii(text)  # every pattern is linear; this returns in well under a second
    for f in findings:
        assert text[f.start:f.end] == f.text
    if name in ("zero space", "zero dot", "one long number"):
        assert findings == []


def test_repeated_spaced_phones_are_each_found(detector: PiiDetector) -> None:
    text = "0 9 1 2 3 4 5 6 7 8 , " * 5_000  # 110 KB: 5,000 numbers, resolved in O(n log n)
    findings = detector.find_pii(text)
    assert len(findings) == 5_000 and {f.text for f in findings} == {"0 9 1 2 3 4 5 6 7 8"}


# ---------------------------------------------------------------- held-out set
def test_heldout_set_is_separate_and_consistent() -> None:
    from tests.data.make_pii_labelled import build, parse

    examples = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines()]
    assert len(examples) >= 150
    tuning = {ex["text"] for ex in build()}
    assert not tuning & {ex["text"] for ex in examples}
    for ex in examples:
        for s in ex["spans"]:
            assert 0 <= s["start"] < s["end"] <= len(ex["text"])
        # the markup it was written in, kept beside each example, gives the same text and spans
        assert parse(ex["marked"]) == {"text": ex["text"], "spans": ex["spans"]}


def test_heldout_precision_and_recall(detector: PiiDetector) -> None:
    """Scored once after the rules were written, not tuned on (see the module docstring)."""
    examples = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines()]
    scores = evaluate(detector, examples)
    print("\n" + format_table(scores))
    for key, s in sorted(scores.items()):
        for missed, text in s.false_negatives:
            print(f"FN {key}: {missed!r} in {text!r}")
        for extra, text in s.false_positives:
            print(f"FP {key}: {extra!r} in {text!r}")
    assert scores["ALL"].recall >= 0.95 and scores["ALL"].precision >= 0.95
    for key in ("PHONE", "EMAIL"):
        assert scores[key].recall >= 0.95 and scores[key].precision >= 0.95, key
    assert scores["NAME"].recall >= 0.9 and scores["NAME"].precision >= 0.9
