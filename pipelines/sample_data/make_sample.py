"""Write the bundled sample corpus (news.jsonl.gz, forum.jsonl) from the texts below.

Run from the repo root: python -m pipelines.sample_data.make_sample. The outputs are
committed; this script documents what each planted document tests.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

HERE = Path(__file__).parent

NEWS = [
    ("Hà Nội đẩy mạnh chuyển đổi số trong dịch vụ công",
     "Sáng nay, Ủy ban nhân dân thành phố Hà Nội tổ chức hội nghị đánh giá kết quả chuyển đổi số trong năm qua. "
     "Theo báo cáo, hơn 90% thủ tục hành chính đã được cung cấp trực tuyến toàn trình, giúp người dân tiết kiệm thời gian và chi phí đi lại. "
     "Lãnh đạo thành phố cho biết trong thời gian tới sẽ tiếp tục đầu tư hạ tầng dữ liệu, nâng cao kỹ năng số cho cán bộ và mở rộng các dịch vụ thanh toán không dùng tiền mặt. "
     "Nhiều doanh nghiệp công nghệ trong nước cũng tham gia hội nghị và đề xuất các giải pháp phù hợp với nhu cầu thực tế của người dân.\n\n"
     "Các chuyên gia nhận định việc chuẩn hóa dữ liệu dân cư là nền tảng quan trọng để triển khai các dịch vụ mới. "
     "Khi dữ liệu được kết nối giữa các cơ quan, người dân sẽ không phải khai báo lại thông tin nhiều lần."),
    ("Giá lúa gạo tăng nhẹ tại Đồng bằng sông Cửu Long",
     "Trong tuần này, giá lúa tại nhiều tỉnh Đồng bằng sông Cửu Long tăng từ 100 đến 200 đồng mỗi ki-lô-gam so với tuần trước. "
     "Nông dân ở An Giang và Đồng Tháp cho biết thương lái đến tận ruộng để thu mua, nhu cầu xuất khẩu vẫn ở mức cao. "
     "Theo Hiệp hội Lương thực Việt Nam, giá gạo xuất khẩu loại 5% tấm hiện dao động quanh mức 540 đô la Mỹ mỗi tấn. "
     "Các doanh nghiệp khuyến cáo nông dân cần chú ý chất lượng hạt gạo và tuân thủ quy trình canh tác bền vững để đáp ứng yêu cầu của các thị trường khó tính.\n\n"
     "Ngành nông nghiệp địa phương đang hướng dẫn bà con sử dụng giống lúa chất lượng cao, giảm lượng phân bón hóa học và tăng cường liên kết với doanh nghiệp tiêu thụ."),
    ("Khai mạc lễ hội văn hóa ẩm thực Huế",
     "Tối qua, lễ hội văn hóa ẩm thực Huế chính thức khai mạc với sự tham gia của hơn một trăm gian hàng đến từ nhiều địa phương trong cả nước. "
     "Du khách có dịp thưởng thức các món ăn cung đình, bánh bèo, bánh nậm, bún bò và nhiều đặc sản dân dã khác. "
     "Ban tổ chức cho biết lễ hội kéo dài năm ngày, bên cạnh hoạt động ẩm thực còn có các chương trình biểu diễn nhã nhạc, triển lãm ảnh và hội thảo về bảo tồn di sản. "
     "Nhiều nghệ nhân lớn tuổi đã trực tiếp hướng dẫn khách tham quan cách chế biến món ăn truyền thống theo công thức được lưu giữ qua nhiều thế hệ.\n\n"
     "Đây là dịp để quảng bá hình ảnh cố đô với bạn bè quốc tế, đồng thời thu hút thêm khách du lịch trong mùa thấp điểm."),
    ("Đội tuyển bóng đá nữ chuẩn bị cho giải đấu khu vực",
     "Đội tuyển bóng đá nữ quốc gia đã hội quân tại Trung tâm đào tạo bóng đá trẻ để chuẩn bị cho giải vô địch Đông Nam Á sắp tới. "
     "Ban huấn luyện triệu tập ba mươi cầu thủ, trong đó có nhiều gương mặt trẻ lần đầu được gọi lên tuyển. "
     "Theo kế hoạch, đội sẽ tập luyện trong ba tuần và thi đấu hai trận giao hữu trước khi lên đường. "
     "Các cầu thủ cho biết tinh thần toàn đội rất tốt và mong muốn bảo vệ thành công danh hiệu vô địch.\n\n"
     "Người hâm mộ kỳ vọng đội tuyển tiếp tục thi đấu ổn định, đồng thời tạo cơ hội cho lứa cầu thủ trẻ tích lũy kinh nghiệm thi đấu quốc tế."),
    ("Mưa lớn kéo dài ở các tỉnh miền Trung",
     "Trung tâm Dự báo khí tượng thủy văn quốc gia cho biết từ nay đến cuối tuần, các tỉnh từ Quảng Bình đến Quảng Ngãi có mưa to đến rất to, lượng mưa phổ biến từ 150 đến 300 mi-li-mét. "
     "Chính quyền địa phương đã chủ động sơ tán người dân ở vùng trũng thấp, ven sông và khu vực có nguy cơ sạt lở đất. "
     "Các lực lượng cứu hộ được bố trí sẵn sàng tại những điểm xung yếu, bảo đảm ứng phó kịp thời khi có tình huống xấu xảy ra. "
     "Người dân được khuyến cáo theo dõi thường xuyên bản tin thời tiết và không đi qua các đoạn đường ngập sâu.\n\n"
     "Ngành giáo dục một số địa phương đã cho học sinh nghỉ học để bảo đảm an toàn trong những ngày mưa lũ."),
    ("Doanh nghiệp khởi nghiệp ứng dụng trí tuệ nhân tạo trong y tế",
     "Một nhóm kỹ sư trẻ tại Thành phố Hồ Chí Minh vừa giới thiệu phần mềm hỗ trợ bác sĩ đọc phim chụp X-quang bằng trí tuệ nhân tạo. "
     "Phần mềm được huấn luyện trên hàng chục nghìn hình ảnh đã được các chuyên gia chẩn đoán hình ảnh gán nhãn cẩn thận. "
     "Kết quả thử nghiệm tại hai bệnh viện cho thấy thời gian đọc phim giảm gần một nửa trong khi độ chính xác vẫn được bảo đảm. "
     "Nhóm phát triển cho biết dữ liệu bệnh nhân đều được ẩn danh trước khi sử dụng và tuân thủ các quy định về bảo vệ dữ liệu cá nhân.\n\n"
     "Các chuyên gia cho rằng công cụ này chỉ đóng vai trò hỗ trợ, quyết định cuối cùng vẫn thuộc về bác sĩ điều trị."),
    ("Thư viện số mở rộng kho sách tiếng Việt",
     "Thư viện Quốc gia vừa bổ sung hơn năm nghìn đầu sách điện tử vào hệ thống thư viện số, phục vụ miễn phí cho bạn đọc trên cả nước. "
     "Các đầu sách thuộc nhiều lĩnh vực như văn học, lịch sử, khoa học tự nhiên và kỹ năng sống. "
     "Bạn đọc có thể truy cập bằng máy tính hoặc điện thoại sau khi đăng ký tài khoản với thông tin cơ bản. "
     "Đại diện thư viện cho biết đơn vị đang số hóa thêm nhiều tài liệu quý hiếm để bảo tồn lâu dài và phục vụ công tác nghiên cứu.\n\n"
     "Năm tới, thư viện dự kiến hợp tác với các trường đại học để chia sẻ tài nguyên học thuật, giúp sinh viên vùng sâu vùng xa tiếp cận tri thức dễ dàng hơn."),
]

FORUM = [
    "Mình mới mua chiếc xe máy điện được hai tháng, đi làm mỗi ngày khoảng hai mươi cây số thấy khá ổn. "
    "Sạc một lần đi được gần ba ngày, chi phí điện rẻ hơn nhiều so với đổ xăng. "
    "Tuy nhiên khi trời mưa to mình vẫn hơi lo chuyện ngập nước, không biết các bạn đi lâu năm có kinh nghiệm gì không? "
    "Mình cũng đang phân vân có nên mua thêm bảo hiểm pin hay không, mong mọi người chia sẻ thêm.",
    "Cho mình hỏi kinh nghiệm nuôi cá cảnh trong bể nhỏ với. Mình mới bắt đầu nên chưa biết chọn loại cá nào dễ nuôi. "
    "Hiện tại bể của mình khoảng sáu mươi lít, đã có máy lọc và đèn. "
    "Mọi người khuyên mình nên thay nước bao lâu một lần và cho cá ăn như thế nào để cá khỏe mạnh? "
    "Cảm ơn các bạn đã đọc và góp ý, mình sẽ cập nhật kết quả sau vài tuần.",
    "Bạn nào cần bán lại máy ảnh cũ thì liên hệ anh Nguyễn Văn Hùng, số điện thoại 0912 345 678 hoặc email hung.nguyen@example.vn nhé. "
    "Anh ấy nhận mua các dòng máy còn hoạt động tốt, trả giá hợp lý và có thể đến tận nhà xem máy. "
    "Địa chỉ cửa hàng ở số 12 đường Lê Lợi, phường Bến Thành, Quận 1, Thành phố Hồ Chí Minh. "
    "Mình đã bán cho anh ấy một chiếc máy cũ và thấy làm việc rất uy tín, thanh toán nhanh gọn.",
    "Hôm qua mình đi làm căn cước công dân, số CCCD mới là 001099012345, thủ tục nhanh hơn mình nghĩ rất nhiều. "
    "Cán bộ hướng dẫn tận tình, chỉ mất khoảng mười lăm phút là xong. "
    "Mọi người nhớ mang theo sổ hộ khẩu cũ và đến sớm để tránh phải chờ lâu vào buổi chiều. "
    "Nghe nói sắp tới có thể làm trực tuyến nên sẽ còn tiện hơn nữa.",
    # Vietnamese typed without diacritics.
    "Hom nay minh di cho ben thanh mua do, thay gia rau cu tang len kha nhieu so voi thang truoc. "
    "Nguoi ban hang noi do troi mua nhieu nen hang ve it, gia cao hon binh thuong. "
    "Minh mua it rau muong, ca chua va mot con ca loc ve nau canh chua cho ca nha an toi. "
    "Cac ban o khu vuc khac gia ca co tang nhu vay khong, chia se cho minh biet voi nhe.",
]

SPAM = [
    "MUA NGAY!!! GIẢM GIÁ 90% $$$ CLICK VÀO ĐÂY >>> http://spam.example/abc ### ### ### KHUYẾN MÃI KHỦNG ### ### ### "
    "MUA NGAY!!! GIẢM GIÁ 90% $$$ CLICK VÀO ĐÂY >>> http://spam.example/abc ### ### ###",
    "Trang chủ\nGiới thiệu\nTin tức\nLiên hệ\nĐăng nhập\nĐăng ký\nTrang chủ\nGiới thiệu\nTin tức\nLiên hệ",
    "ok",
    "xem thêm... xem thêm... xem thêm... xem thêm... xem thêm... xem thêm... xem thêm...",
]

OTHER_LANG = [
    "The city council approved a new budget for public transport on Monday, adding three bus lines and "
    "extending service hours on weekends. Officials said the changes would take effect next month after a short consultation period.",
    "Le conseil municipal a adopté lundi un nouveau budget pour les transports publics, avec trois nouvelles lignes de bus "
    "et des horaires prolongés le week-end.",
    "市议会周一批准了新的公共交通预算，增加了三条公交线路，并延长了周末的服务时间。",
]


def _news_docs() -> list[dict]:
    docs = []
    for i, (title, body) in enumerate(NEWS):
        docs.append({"id": f"news-{i:03d}", "url": f"https://tin.example.vn/bai-{i}",
                     "date": f"2026-10-{i + 1:02d}", "text": f"{title}\n\n{body}"})
    # Exact duplicate (republished) and a near-duplicate (edited lead) of the first article.
    docs.append({**docs[0], "id": "news-dup-exact", "url": "https://mirror.example.vn/a", "date": "2026-10-20"})
    near = docs[1]["text"].replace("Trong tuần này", "Trong tuần qua").replace("tăng từ 100", "tăng khoảng 100")
    docs.append({"id": "news-dup-near", "url": "https://mirror.example.vn/b", "date": "2026-10-21", "text": near})
    for j, text in enumerate(OTHER_LANG):
        docs.append({"id": f"other-{j}", "url": f"https://world.example.com/{j}", "date": "2026-10-05", "text": text})
    return docs


LEGACY_TCVN3 = ("Bà con nông dân huyện Tiền Hải đang khẩn trương thu hoạch lúa vụ mùa trước khi bão về. "
                "Năm nay năng suất đạt khá, nhiều hộ gia đình cho biết giá bán cao hơn năm trước. "
                "Chính quyền xã đã huy động máy gặt và lực lượng thanh niên hỗ trợ các gia đình neo đơn.")


def _tcvn3_as_read_by_a_latin1_tool(text: str) -> str:
    """How a TCVN3 (ABC) document looks after a tool decoded its bytes as Latin-1."""
    from filters.legacy_encodings import unicode_to_tcvn3

    return unicode_to_tcvn3(text)


def _forum_lines() -> list[str]:
    lines = []
    lines.append(json.dumps({"id": "legacy-tcvn3", "url": "https://diendan.example.vn/t/legacy",
                             "date": "2026-09-14", "text": _tcvn3_as_read_by_a_latin1_tool(LEGACY_TCVN3)},
                            ensure_ascii=False))
    for i, text in enumerate(FORUM):
        lines.append(json.dumps({"id": f"forum-{i}", "url": f"https://diendan.example.vn/t/{i}",
                                 "date": "2026-09-15", "text": text}, ensure_ascii=False))
    for i, text in enumerate(SPAM):
        lines.append(json.dumps({"id": f"spam-{i}", "url": f"https://spam.example/{i}",
                                 "date": "2026-09-16", "text": text}, ensure_ascii=False))
    # Bad input, planted on purpose: malformed JSON, a record without text, invalid UTF-8.
    lines.append('{"id": "broken-json", "text": "thiếu dấu ngoặc kết thúc"')
    lines.append(json.dumps({"id": "no-text", "body": "trường văn bản bị đặt sai tên"}, ensure_ascii=False))
    return lines


ARTICLES = [
    ("https://bao.example.vn/giao-duc/tuyen-sinh", "Tuyển sinh đại học năm nay có nhiều điểm mới",
     "Bộ Giáo dục và Đào tạo vừa công bố quy chế tuyển sinh đại học năm nay với nhiều điều chỉnh. "
     "Thí sinh được đăng ký nguyện vọng không giới hạn trên hệ thống trực tuyến và có thể thay đổi trong thời gian quy định. "
     "Các trường đại học cũng được khuyến khích công bố sớm phương án xét tuyển để học sinh chủ động lựa chọn. "
     "Nhiều chuyên gia cho rằng việc công khai thông tin sớm sẽ giúp giảm áp lực cho thí sinh và phụ huynh."),
    ("https://bao.example.vn/kinh-te/xuat-khau", "Xuất khẩu cà phê đạt kỷ lục",
     "Theo số liệu mới nhất, kim ngạch xuất khẩu cà phê của Việt Nam trong mười tháng đầu năm đã vượt mức cả năm trước. "
     "Giá cà phê trên thị trường thế giới duy trì ở mức cao giúp người trồng cà phê ở Tây Nguyên có thu nhập tốt. "
     "Các doanh nghiệp đang đẩy mạnh chế biến sâu để nâng cao giá trị sản phẩm thay vì chỉ xuất khẩu cà phê nhân. "
     "Ngành nông nghiệp khuyến cáo nông dân không mở rộng diện tích ồ ạt mà tập trung vào chất lượng."),
]


def _write_warc(path: Path) -> None:
    """A small crawl: two news pages (with menus and footers to strip) and one record whose
    HTTP header block is broken, which the pipeline quarantines."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, title, body in ARTICLES:
            html = (f"<html><head><title>{title}</title></head><body><nav>Trang chủ | Thời sự | Liên hệ</nav>"
                    f"<article><h1>{title}</h1><p>{body}</p></article>"
                    "<footer>© Báo mẫu. Mọi quyền được bảo lưu.</footer></body></html>")
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(html.encode()),
                                                          http_headers=headers))
        broken = writer.create_warc_record("https://bao.example.vn/hong", "response",
                                           payload=io.BytesIO(b"HTTP/1.1 ???\r\nnot a header\r\n\r\n<html></html>"),
                                           warc_content_type="application/http; msgtype=response")
        writer.write_record(broken)


def main() -> None:
    with gzip.open(HERE / "news.jsonl.gz", "wt", encoding="utf-8") as fh:
        for d in _news_docs():
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    data = "\n".join(_forum_lines()).encode("utf-8") + b"\n"
    data += b'{"id": "bad-utf8", "text": "m\xe1\xbb\x99t chu\xff\xfe\xc3 h\xe1\xbb\x8dc"}\n'
    (HERE / "forum.jsonl").write_bytes(data)
    _write_warc(HERE / "crawl.warc.gz")


if __name__ == "__main__":
    main()
