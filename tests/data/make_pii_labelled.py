"""Generate tests/data/pii_labelled.jsonl from hand-written sentences with inline markup.

Each sentence marks its PII as ``[[TYPE:text]]``; this script strips the markup and emits
``{"text": ..., "spans": [{"type", "start", "end"}]}`` with character offsets into the
clean text. Run: ``python tests/data/make_pii_labelled.py`` (rewrites the jsonl).

Labelling policy (what the gold spans mean):
* NAME: a person's name, without the honorific or title ("anh [[NAME:Tuấn]]", "Cầu thủ
  [[NAME:Nguyễn Quang Hải]]"), typed with or without diacritics, capitalised or not
  ("[[NAME:nguyen van hung]] goi lai"). Not NAME: streets, wards, schools, companies,
  awards and places named after people ("đường Trần Hưng Đạo", "trường Lê Quý Đôn"), and
  names that are not a private person's data: historical figures ("Trần Hưng Đạo đánh tan
  quân Nguyên", "Chủ tịch Hồ Chí Minh") and office holders named with their public office
  ("Thủ tướng Phạm Minh Chính chủ trì", "Tổng thống Joe Biden"). A private-person cue
  ("cháu [[NAME:Lê Lợi]], 6 tuổi") or contact details in the sentence make a namesake NAME.
  Celebrities, athletes, local officials and professionals named without a public office
  stay NAME (telling them from namesakes needs a list of living people).
* ADDRESS: from the house number (with a leading "số"/"nhà" when written) or the alley /
  hamlet word through the last administrative unit written after it. A province,
  district or street mentioned without a house number or hamlet is not an address.
* DOB: the date or year only, not the cue ("sinh ngày [[DOB:12/03/1990]]").
* PHONE: the number as written, with +84 / parentheses, digit by digit ("0 9 1 2 ...") or in
  the 11-digit form retired in 2018; 1800/1900 service numbers are not PII.
* EMAIL: the address as written, spelled-out forms included ("ten [at] gmail [dot] com",
  "ten a còng gmail chấm com").
* BANK_ACCOUNT: the digits of an account named by context; CARD: a card number.
* Negatives: years, prices, law and article numbers, ISBNs, dates of events, percentages,
  measurements, scores, versions, quantities, hotline numbers, bare place names.

The sentences are synthetic (written for Kho); every number and name is made up or public.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MARK = re.compile(r"\[\[([A-Z_]+):(.+?)\]\]")

SENTENCES = r"""
# ---------------------------------------------------------------- PHONE
Cần bán xe máy Wave đời 2019, liên hệ [[PHONE:0912 345 678]] gặp [[NAME:Tuấn]].
Mọi chi tiết xin gọi [[PHONE:091.234.5678]] (giờ hành chính).
Shop nhận đặt hàng qua số [[PHONE:+84 912 345 678]] hoặc Zalo.
Văn phòng công ty: [[PHONE:(028) 3823 4567]], fax [[PHONE:(028) 3823 4568]] không còn dùng.
Tổng đài trực ban của phường: [[PHONE:024-3826-1234]].
Gửi tin nhắn tới [[PHONE:84912345678]] để xác nhận đơn hàng.
Anh [[NAME:Hùng]] để lại số [[PHONE:0987654321]] nhờ bên mình gọi lại.
Chị cần tư vấn thì nhắn em qua [[PHONE:0903.123.456]] nhé.
SĐT: [[PHONE:0868 222 333]] - Zalo cùng số.
Hotline cá nhân của luật sư [[NAME:Trần Minh Khoa]] là [[PHONE:0977-888-999]].
Liên lạc với gia đình qua số [[PHONE:+84 (24) 3942 1111]] hoặc [[PHONE:0356 789 012]].
Số của bà [[NAME:Lê Thị Hạnh]]: [[PHONE:0702 456 789]].
ĐT bàn nhà em là [[PHONE:0236 3821 567]], di động [[PHONE:0935 111 222]].
Bạn nào nhặt được ví vui lòng gọi [[PHONE:0398.765.432]], xin cảm ơn.
Người nhận: [[NAME:Phạm Thu Trang]], điện thoại [[PHONE:0833 456 123]].
Đặt bàn trước qua [[PHONE:+84-909-123-456]] để được giảm giá.
Cho thuê phòng trọ giá rẻ, liên hệ chủ nhà [[PHONE:0585 678 901]].
Máy anh ấy là [[PHONE:0084 912 000 111]] nhưng thường tắt máy.
Nhà xe nhận hàng đi Đà Lạt, gọi [[PHONE:0263 3822 456]].
Mình là [[NAME:Ngọc]], số điện thoại [[PHONE:0764123456]], ai có nhu cầu ib.
Tổng đài 1900 6789 và 1800 1090 là số dịch vụ của công ty, không phải số cá nhân.
# ---------------------------------------------------------------- EMAIL
Gửi CV về địa chỉ [[EMAIL:tuyendung.hr@gmail.com]] trước ngày 30/6.
Mọi thắc mắc liên hệ [[EMAIL:nguyen.van.an@company.com.vn]].
Email cá nhân của tôi: [[EMAIL:lan_tran95@yahoo.com]].
Phụ huynh gửi đơn qua [[EMAIL:thaygiao.minh@hocmai.edu.vn]] hoặc nộp trực tiếp.
Bạn [[NAME:Hoa]] có thể viết thư cho mình ở [[EMAIL:hoa.pham+shop@outlook.com]] nhé.
Tài khoản đăng nhập là [[EMAIL:kho.data-team@fpt.vn]].
Liên hệ ban tổ chức: [[EMAIL:btc2024@vnexpress.net]], điện thoại [[PHONE:0243 7766 888]].
Địa chỉ thư: [[EMAIL:lequanghuy1987@gmail.com]].
Sinh viên [[NAME:Đỗ Mạnh Cường]] ([[EMAIL:cuong.dm@sis.hust.edu.vn]]) đạt giải nhất.
Vui lòng phản hồi về [[EMAIL:hotro@dichvucong.gov.vn]] nếu có sai sót.
Nhắn cho em qua [[EMAIL:be.na2001@icloud.com]] hoặc Messenger.
Người liên hệ: chị [[NAME:Vy]] - [[EMAIL:vy.nguyen@abc-logistics.vn]].
Gửi bài dự thi tới [[EMAIL:cuocthi.vanhoc@tuoitre.com.vn]].
Mail công việc: [[EMAIL:q.anh.tran@vng.com.vn]], mail riêng: [[EMAIL:quanganh.tran@gmail.com]].
Đăng ký nhận tin tại [[EMAIL:newsletter@dantri.com.vn]].
# ---------------------------------------------------------------- CCCD / CMND
Họ và tên: [[NAME:Nguyễn Văn Bình]], số CCCD: [[CCCD:001090123456]].
Căn cước công dân số [[CCCD:079185004321]] do Cục Cảnh sát cấp ngày 10/5/2021.
Tôi tên là [[NAME:Trần Thị Mai]], CCCD [[CCCD:036195012345]], thường trú tại Nam Định.
Ông [[NAME:Phan Văn Đức]] xuất trình thẻ căn cước [[CCCD:040088001234]] khi làm thủ tục.
Mất ví có CCCD mang tên [[NAME:Lê Hoàng Nam]] số [[CCCD:048201009876]], ai nhặt được xin liên hệ [[PHONE:0905 222 111]].
Số định danh cá nhân: [[CCCD:031099007788]].
Mã số định danh [[CCCD:001 305 012 345]] được dùng để đăng nhập VNeID.
Chị ấy đọc số căn cước [[CCCD:0380 9600 1122]] cho nhân viên ngân hàng.
Thông tin khách hàng: [[NAME:Vũ Đình Long]], [[CCCD:025087000456]].
Người bán [[NAME:Hồ Thị Thanh]], căn cước [[CCCD:052179003214]].
Giấy tờ: CCCD [[CCCD:094300112233]] cấp tại Sóc Trăng.
Bên A: bà [[NAME:Đặng Thị Kim]], CCCD số [[CCCD:027168004455]].
Nhập số căn cước gồm 12 chữ số, ví dụ [[CCCD:001092009999]], vào ô bên dưới.
Số CMND: [[CMND:123456789]] cấp ngày 12/8/2010 tại Công an Hà Nội.
Anh [[NAME:Bùi Văn Tú]], CMND [[CMND:271234567]], hộ khẩu Đồng Nai.
Giấy chứng minh nhân dân số [[CMND:025 678 901]] đã hết hạn.
Số CMTND của tôi là [[CMND:013456789]].
Ông [[NAME:Ngô Quang Vinh]] khai số chứng minh thư [[CMND:186543210]].
Bản sao CMND số [[CMND:341234567]] kèm theo hồ sơ.
Mất giấy tờ gồm CMND [[CMND:212345678]] và bằng lái xe.
Chứng minh nhân dân: [[CMND:079123456]] (cũ), căn cước mới: [[CCCD:079093001122]].
Khách đặt phòng: [[NAME:Lý Thị Ngân]], số CMT [[CMND:172345678]].
Số CM [[CMND:285123456]] do Công an Bình Phước cấp.
Người làm chứng [[NAME:Đoàn Văn Hậu]] cung cấp CMND [[CMND:241567890]].
Hồ sơ ghi CMND số [[CMND:012345678]] mang tên [[NAME:Cao Thị Lan]].
CMND cũ loại 12 số: [[CMND:001089001234]].
Mẫu đơn yêu cầu ghi số CMND [[CMND:230987654]] và ngày cấp.
Cô ấy cung cấp số CMND [[CMND:145678901]] khi đăng ký sim.
Theo CMND số [[CMND:024 111 222]], người này quê Bắc Giang.
# ---------------------------------------------------------------- PASSPORT
Hộ chiếu số [[PASSPORT:B1234567]] cấp ngày 01/02/2018 tại Hà Nội.
Khách [[NAME:Nguyễn Minh Châu]], passport [[PASSPORT:C0123456]], quốc tịch Việt Nam.
Số hộ chiếu: [[PASSPORT:C9876543]].
Đoàn có ông [[NAME:Trịnh Văn Sơn]] mang hộ chiếu [[PASSPORT:N1234321]].
Vui lòng nhập passport number: [[PASSPORT:C4567890]].
Hộ chiếu phổ thông [[PASSPORT:B7654321]] của chị [[NAME:Hà]] đã hết hạn.
Thông tin vé: [[NAME:Tran Thi Huong]], PP [[PASSPORT:C2233445]].
Người đi cùng: [[NAME:Lê Văn Phúc]] (HC [[PASSPORT:C1122334]]).
Ông [[NAME:Hoàng Đức Thịnh]] làm lại hộ chiếu [[PASSPORT:P0456789]] tại Cục Quản lý xuất nhập cảnh.
Số hộ chiếu mới [[PASSPORT:C3344556]] thay cho số cũ [[PASSPORT:B2233441]].
Đặt vé máy bay cho bé [[NAME:An]], hộ chiếu [[PASSPORT:C5566778]].
Hộ chiếu ngoại giao số [[PASSPORT:A1234567]] được miễn thị thực.
Visa dán trên hộ chiếu [[PASSPORT:C7788990]] có giá trị 90 ngày.
Passport: [[PASSPORT:N2345678]], ngày hết hạn 15/09/2030.
Mình làm mất passport [[PASSPORT:C6677889]] ở sân bay, ai thấy báo giúp.
# ---------------------------------------------------------------- TAX_CODE
Công ty TNHH Minh Phát, mã số thuế [[TAX_CODE:0100109106]].
MST: [[TAX_CODE:0312345673]] - Chi nhánh Bình Thạnh.
Mã số thuế cá nhân của anh [[NAME:Nam]] là [[TAX_CODE:8012345677]].
Hóa đơn ghi MST người mua [[TAX_CODE:0101234565-001]].
Mã số doanh nghiệp [[TAX_CODE:0309876547]] do Sở Kế hoạch và Đầu tư cấp.
Đơn vị bán hàng: Cửa hàng Hoa Mai, MST [[TAX_CODE:4600123459]].
Mã số thuế [[TAX_CODE:0312345680]] đã ngừng hoạt động từ năm 2022.
Hộ kinh doanh của bà [[NAME:Trương Thị Lụa]], MST [[TAX_CODE:0401234566]].
Xuất hóa đơn đỏ theo MST [[TAX_CODE:0108765438]] giúp em.
Chi nhánh có mã số thuế [[TAX_CODE:0100109106-005]].
Nhà cung cấp [[TAX_CODE:3600123457]] chưa nộp tờ khai quý 3.
Thông tin xuất hóa đơn: [[TAX_CODE:0316543210]], Công ty Cổ phần Sao Việt.
Doanh nghiệp mang mã số [[TAX_CODE:0201234569]] bị đình chỉ.
Kế toán gửi lại MST: [[TAX_CODE:5701234566]].
Mã số thuế của cô [[NAME:Hằng]]: [[TAX_CODE:8098765430]].
Nhập mã số thuế [[TAX_CODE:0106543214]] để tra cứu.
# ---------------------------------------------------------------- BANK_ACCOUNT
Chuyển khoản vào STK [[BANK_ACCOUNT:0071000123456]] Vietcombank, chủ tài khoản [[NAME:Nguyễn Văn Hải]].
Số tài khoản: [[BANK_ACCOUNT:19035678901234]] - Techcombank - [[NAME:Trần Thị Thu]].
Ủng hộ đồng bào lũ lụt qua tài khoản [[BANK_ACCOUNT:1234567890]] tại BIDV.
STK [[BANK_ACCOUNT:0912345678]] MB Bank, chủ TK [[NAME:Lê Minh Tâm]].
Tiền cọc gửi vào TK [[BANK_ACCOUNT:3100205678912]] Agribank.
Em nhận tiền qua account [[BANK_ACCOUNT:102876543210]] VietinBank.
Tài khoản ACB số [[BANK_ACCOUNT:24681357]] của cửa hàng.
Quý khách thanh toán vào số tài khoản [[BANK_ACCOUNT:060123456789]] Sacombank.
CK giúp mình [[BANK_ACCOUNT:8888 6666 2222]] VPBank nhé.
Số TK: [[BANK_ACCOUNT:00001234567]] TPBank, nội dung ghi họ tên học sinh.
Ngân hàng Vietcombank, số tài khoản [[BANK_ACCOUNT:0491000012345]], chi nhánh Thăng Long.
Anh gửi lại STK đi: [[BANK_ACCOUNT:105870123456]] - Vietinbank - [[NAME:Phạm Văn Quý]].
Học phí nộp vào tài khoản [[BANK_ACCOUNT:2111 0000 567890]] tại BIDV chi nhánh Hà Thành.
Đã nhận [[BANK_ACCOUNT:700012345678]] (Shinhan) của chị [[NAME:Mai]].
Tài khoản nhận: [[BANK_ACCOUNT:1903-4567-8910-11]] Techcombank.
Bị lừa chuyển tiền vào tài khoản [[BANK_ACCOUNT:56789012345]] mang tên [[NAME:Đinh Văn Lực]].
STK Momo [[BANK_ACCOUNT:0934567890]], tên [[NAME:Vương Thị Yến]].
# ---------------------------------------------------------------- CARD
Thẻ Visa số [[CARD:4111 1111 1111 1111]] đã bị khóa.
Thanh toán bằng thẻ [[CARD:5500-0000-0000-0004]] thất bại.
Số thẻ tín dụng: [[CARD:4012888888881881]].
Khách hàng làm lộ số thẻ [[CARD:3530 1113 3330 0000]] khi mua sắm trực tuyến.
Mastercard [[CARD:5105 1051 0510 5100]] hết hạn 08/27.
Thẻ ATM nội địa [[CARD:9704 0000 0000 0018]] của bà [[NAME:Lâm]].
Số thẻ ghi nợ [[CARD:4000 0566 5566 5556]].
Kẻ gian dùng thẻ [[CARD:378282246310005]] để mua vé máy bay.
Nhập số thẻ [[CARD:6011 1111 1111 1117]] và mã CVV.
Thẻ JCB số [[CARD:3566 0020 2036 0505]].
Thẻ của anh [[NAME:Toàn]] số [[CARD:4242 4242 4242 4242]] đã được hoàn tiền.
Giao dịch từ thẻ [[CARD:5200828282828210]] bị từ chối.
Vui lòng xác nhận thẻ [[CARD:2223 0031 2200 3222]].
Thẻ Visa Debit [[CARD:4000-0566-5566-5556]] liên kết ví điện tử.
Đừng bao giờ gửi số thẻ như [[CARD:4917 6100 0000 0000]] qua tin nhắn.
Thông tin thẻ bị đánh cắp: [[CARD:5555555555554444]].
# ---------------------------------------------------------------- PLATE
Xe ô tô biển số [[PLATE:29A-123.45]] vượt đèn đỏ tại ngã tư.
Tài xế điều khiển xe tải [[PLATE:51F-12345]] bỏ chạy sau va chạm.
Cảnh sát tạm giữ xe mang biển [[PLATE:30E 123.45]].
Xe máy BKS [[PLATE:59-X1 123.45]] bị mất trộm trước cổng chợ.
Chiếc taxi [[PLATE:29LD-012.34]] chở khách đi sân bay.
Anh [[NAME:Khánh]] đi xe [[PLATE:59X1-12345]], màu đỏ.
Biển số xe: [[PLATE:43A-567.89]], chủ xe [[NAME:Nguyễn Thị Lệ]].
Xe khách [[PLATE:75B-012.34]] lật trên đèo Hải Vân.
Camera ghi lại xe [[PLATE:36C-456.78]] chạy quá tốc độ.
Bán xe Vios chính chủ, biển [[PLATE:30G-888.99]], gọi [[PHONE:0912 888 999]].
Xe máy biển kiểm soát [[PLATE:29-B1 234.56]] va chạm với xe đạp.
Chủ xe [[PLATE:92A-12345]] bị phạt nguội.
Tìm chủ xe [[PLATE:65-H1 678.90]] đỗ chắn cổng.
Xe biển [[PLATE:14A-234.56]] của ông [[NAME:Đào Văn Tiến]] bị thu giữ.
Ô tô con biển số [[PLATE:51H-123.45]] tông vào dải phân cách.
Xe container [[PLATE:15C-345.67]] gặp nạn trên quốc lộ 5.
Phương tiện vi phạm: [[PLATE:38-K1 111.22]].
# ---------------------------------------------------------------- HEALTH_INSURANCE
Mã thẻ BHYT: [[HEALTH_INSURANCE:DN4010123456789]].
Thẻ bảo hiểm y tế [[HEALTH_INSURANCE:HS 4 79 1234567890]] của cháu còn hạn.
Bệnh nhân [[NAME:Nguyễn Văn Tám]], thẻ BHYT [[HEALTH_INSURANCE:GD4790987654321]].
Số thẻ BHYT [[HEALTH_INSURANCE:HT2010123456789]] dùng khám tại tuyến huyện.
Cụ [[NAME:Lê Thị Gái]] có thẻ [[HEALTH_INSURANCE:CB2361234567890]].
Thẻ BHYT mã [[HEALTH_INSURANCE:TE1 01 0123456789]] cấp cho trẻ em dưới 6 tuổi.
Vui lòng ghi mã thẻ bảo hiểm y tế, ví dụ [[HEALTH_INSURANCE:SV4480112233445]].
Học sinh [[NAME:Phạm Gia Bảo]] nộp thẻ [[HEALTH_INSURANCE:HS4010011223344]].
Mã BHYT [[HEALTH_INSURANCE:CH4791234509876]] không tra cứu được trên cổng.
Thẻ bảo hiểm y tế số [[HEALTH_INSURANCE:DN 4 01 0101234567]] hết hạn 31/12.
Thẻ BHYT hộ gia đình: [[HEALTH_INSURANCE:GD4 36 3612345678]].
Ông [[NAME:Vũ Văn Thắng]] mang thẻ [[HEALTH_INSURANCE:HC4010987612345]] đến khám.
In lại thẻ BHYT [[HEALTH_INSURANCE:XN3310123400001]] bị rách.
Thẻ [[HEALTH_INSURANCE:TE1790000123456]] của bé [[NAME:Na]] được miễn cùng chi trả.
Mã thẻ [[HEALTH_INSURANCE:BT2920001234567]] thuộc đối tượng bảo trợ xã hội.
Thẻ BHYT hưu trí [[HEALTH_INSURANCE:HT3 48 4801234567]].
# ---------------------------------------------------------------- SOCIAL_INSURANCE
Mã số BHXH: [[SOCIAL_INSURANCE:0123456789]].
Sổ BHXH số [[SOCIAL_INSURANCE:7912345678]] của chị [[NAME:Hương]] bị thất lạc.
Người lao động [[NAME:Trần Văn Khải]], mã số bảo hiểm xã hội [[SOCIAL_INSURANCE:0198765432]].
Tra cứu quá trình đóng bảo hiểm xã hội theo mã [[SOCIAL_INSURANCE:4801234567]].
Mã BHXH [[SOCIAL_INSURANCE:3612345678]] đã được gộp sổ.
Số sổ bảo hiểm xã hội: [[SOCIAL_INSURANCE:0101987654]].
Công ty chốt sổ BHXH [[SOCIAL_INSURANCE:7923456781]] cho anh [[NAME:Tùng]].
Cô [[NAME:Thảo]] có mã số BHXH [[SOCIAL_INSURANCE:0123987456]].
Mã số bảo hiểm [[SOCIAL_INSURANCE:2712345678]] in trên tờ rời.
Nhập mã BHXH [[SOCIAL_INSURANCE:4012345679]] và họ tên để tra cứu.
Sổ bảo hiểm xã hội [[SOCIAL_INSURANCE:3801234567]] do BHXH tỉnh Thanh Hóa cấp.
BHXH số [[SOCIAL_INSURANCE:7911122233]], người tham gia [[NAME:Lý Văn Hòa]].
Mã số BHXH của bố tôi là [[SOCIAL_INSURANCE:0102030405]].
Quên mã số BHXH thì tra bằng CCCD [[CCCD:001188004567]].
Mã số bảo hiểm xã hội [[SOCIAL_INSURANCE:2512345670]] đăng ký từ năm 2015.
Xin cấp lại sổ BHXH mã [[SOCIAL_INSURANCE:8712349876]].
# ---------------------------------------------------------------- DOB
[[NAME:Nguyễn Văn Long]], sinh ngày [[DOB:12/03/1990]], quê Nghệ An.
Ngày sinh: [[DOB:12-3-1990]].
Bị cáo [[NAME:Trần Văn Lộc]] (sinh năm [[DOB:1985]]) bị tuyên phạt 5 năm tù.
Chị [[NAME:Hoa]], năm sinh [[DOB:1992]], hiện làm kế toán.
DOB: [[DOB:05/11/1988]].
Đối tượng [[NAME:Lê Văn Mạnh]], SN [[DOB:1979]], trú tại Hải Phòng.
Cháu [[NAME:Bảo Anh]] sinh ngày [[DOB:3 tháng 4 năm 2015]] tại Bệnh viện Từ Dũ.
Ngày tháng năm sinh: [[DOB:01.01.2000]].
Ông Phạm Văn Đồng sinh năm [[DOB:1906]] tại Quảng Ngãi.
Ứng viên [[NAME:Hồ Ngọc Hà]], sinh [[DOB:25/11/1995]], tốt nghiệp Đại học Kinh tế.
Em sinh tháng [[DOB:7/2003]], năm nay thi đại học.
Họ tên: [[NAME:Đặng Văn Lâm]]; ngày sinh: [[DOB:13/08/1993]].
Nạn nhân là anh [[NAME:Hoàng Văn Tuấn]] (SN [[DOB:1998]], quê Thanh Hóa).
Date of birth: [[DOB:21/06/1987]].
Bé gái sinh ra vào ngày [[DOB:15/08/2021]] nặng 3,2 kg.
Thí sinh [[NAME:Vũ Thị Ngọc]], sinh ngày [[DOB:09-09-2006]].
Nữ ca sĩ [[NAME:Mỹ Tâm]] sinh năm [[DOB:1981]] tại Đà Nẵng.
# ---------------------------------------------------------------- ADDRESS
Nhà tôi ở [[ADDRESS:số 12 đường Lê Lợi, phường Bến Nghé, quận 1, TP.HCM]].
Cần bán nhà [[ADDRESS:45/6 Nguyễn Trãi, Thanh Xuân, Hà Nội]], giá thương lượng.
Quán phở nằm ở [[ADDRESS:ngõ 10 phố Huế]], rất đông khách.
Địa chỉ giao hàng: [[ADDRESS:123 Lê Lợi, P. Bến Thành, Q.1, TP.HCM]].
Anh [[NAME:Sơn]] thuê trọ ở [[ADDRESS:hẻm 51 Trần Hưng Đạo, Q.5]].
Gia đình bà [[NAME:Lê Thị Út]] ở [[ADDRESS:ấp 3, xã Tân Phú, huyện Đức Hòa, tỉnh Long An]].
Văn phòng đặt tại [[ADDRESS:số 8 Tràng Tiền, Hoàn Kiếm, Hà Nội]].
Giao hàng tới [[ADDRESS:12 đường 3/2, quận 10]] trước 5 giờ chiều.
Tiệm may nhỏ ở [[ADDRESS:kiệt 15 Hoàng Diệu, Hải Châu, Đà Nẵng]].
Cho thuê mặt bằng [[ADDRESS:số 25 phố Bà Triệu]], diện tích 60 m2.
Người gửi: [[NAME:Nguyễn Thị Thu]], [[ADDRESS:số 7 ngách 12/3 ngõ 45 Chùa Láng, Đống Đa, Hà Nội]].
Trú quán: [[ADDRESS:thôn Đông, xã Yên Sở, huyện Hoài Đức, Hà Nội]].
Tôi sống tại [[ADDRESS:nhà số 3 đường Trần Phú, phường 4, thành phố Vũng Tàu]].
Địa chỉ: [[ADDRESS:78A đường Nguyễn Văn Cừ, phường An Hòa, quận Ninh Kiều, Cần Thơ]].
Hàng xóm báo cháy tại [[ADDRESS:số 102 phố Hàng Bông]] lúc nửa đêm.
Nhận hàng tại [[ADDRESS:234/12 Lý Thường Kiệt, phường 14, quận 10]].
Khách sạn nằm ở [[ADDRESS:số 18 đường số 7, khu phố 2, phường An Lạc, quận Bình Tân]].
Hộ khẩu thường trú: [[ADDRESS:xóm 5, xã Nghi Phong, huyện Nghi Lộc, tỉnh Nghệ An]].
Ship đến [[ADDRESS:số 56 đường Hùng Vương, TP. Huế]] giúp mình.
Bà [[NAME:Năm]] bán xôi ở đầu [[ADDRESS:ngõ 68 Cầu Giấy]] mỗi sáng.
Chỗ ở hiện nay: [[ADDRESS:tổ 7, phường Quang Trung, TP. Thái Nguyên]].
Phòng khám của bác sĩ [[NAME:Trần Quốc Bảo]] ở [[ADDRESS:số 15 Phan Chu Trinh, Hoàn Kiếm]].
# ---------------------------------------------------------------- NAME
Anh [[NAME:Nguyễn Văn Nam]] cho biết gia đình đã báo công an.
Chị [[NAME:Lan]] và em gái [[NAME:Huệ]] đều làm công nhân.
Ông [[NAME:Phạm Minh Chính]] đã gặp bà [[NAME:Trần Thị Hoa]] tại buổi tiếp xúc cử tri.
Thủ tướng Phạm Minh Chính chủ trì cuộc họp Chính phủ thường kỳ.
[[NAME:Trần Thanh Tâm]] là người phát hiện vụ việc đầu tiên.
Cầu thủ [[NAME:Nguyễn Quang Hải]] ghi bàn ở phút 89.
Tiền đạo [[NAME:Lionel Messi]] nhận Quả bóng vàng lần thứ tám.
HLV [[NAME:Park Hang-seo]] từng dẫn dắt đội tuyển Việt Nam.
Bác [[NAME:Tư]] kể lại chuyện cũ với giọng chậm rãi.
Theo lời kể của cô [[NAME:Minh Thư]], sự việc xảy ra lúc 22 giờ.
Họ tên người bệnh: [[NAME:Đỗ Thị Hồng]].
Tôi tên là [[NAME:Khôi]], năm nay học lớp 9.
Hôm qua [[NAME:Hoàng Anh Tuấn]] và [[NAME:Vũ Thị Linh]] đã tổ chức đám cưới.
Nhà thơ Xuân Diệu được mệnh danh là ông hoàng thơ tình.
Chủ tịch Hồ Chí Minh đọc bản Tuyên ngôn độc lập tại Quảng trường Ba Đình.
Bị cáo [[NAME:Trương Mỹ Lan]] bị tuyên án tại phiên tòa sơ thẩm.
Em [[NAME:Hùng]] học giỏi nhất lớp, còn bé [[NAME:Mai]] thì hát hay.
Giám đốc [[NAME:Lê Quang Minh]] ký quyết định khen thưởng.
Nghệ sĩ Trịnh Công Sơn để lại hơn 600 ca khúc.
Cháu [[NAME:Phúc]] bị lạc khi đi chợ cùng mẹ.
Ca sĩ [[NAME:Sơn Tùng]] ra mắt sản phẩm mới.
[[NAME:Đặng Lê Nguyên Vũ]] là nhà sáng lập một hãng cà phê lớn.
Tổng thống Joe Biden thăm Hà Nội tháng 9/2023.
Bạn [[NAME:Minh Anh]] ơi, cho mình mượn vở nhé.
Sáng nay ông [[NAME:Ba]] ra đồng từ sớm.
Thượng tá [[NAME:Nguyễn Văn Hưng]], Trưởng Công an huyện, cho biết.
Vợ anh [[NAME:Khoa]] là chị [[NAME:Diệp Thảo]], giáo viên tiểu học.
Luật sư [[NAME:Nguyễn Thành Công]] bào chữa cho thân chủ.
Người dân gọi bà là mẹ [[NAME:Suốt]].
Nhóm tác giả gồm Lưu Quang Vũ và Xuân Quỳnh.
Bệnh nhân [[NAME:Tạ Văn Hòa]] đã xuất viện sau hai tuần điều trị.
Chị [[NAME:Hà]] ở Hà Nội gửi câu hỏi đến chuyên mục.
Anh [[NAME:Quốc]] người Nam Định nói giọng rất nặng.
[[NAME:Kim Jong-un]] và [[NAME:Donald Trump]] gặp nhau tại Hà Nội năm 2019.
Đồng chí [[NAME:Tô Lâm]] phát biểu tại hội nghị.
# ---------------------------------------------------------------- IP
Máy chủ có địa chỉ IP [[IP:192.168.1.10]] bị tấn công.
Truy cập trái phép từ [[IP:203.113.45.7]] lúc 3 giờ sáng.
Đổi DNS sang [[IP:8.8.8.8]] hoặc [[IP:1.1.1.1]] để vào mạng nhanh hơn.
Địa chỉ IPv6 của máy: [[IP:2001:db8:85a3::8a2e:370:7334]].
Log ghi nhận [[IP:10.0.0.254]] gửi 10.000 request mỗi phút.
Router nhà mình là [[IP:192.168.0.1]], mật khẩu mặc định admin.
Chặn dải [[IP:113.160.0.0/11]] trên tường lửa.
Tài khoản đăng nhập từ IP lạ [[IP:171.244.12.99]] ở nước ngoài.
Server cũ [[IP:fe80::1ff:fe23:4567:890a]] đã ngừng hoạt động.
Ping tới [[IP:172.16.254.1]] bị timeout.
Kẻ tấn công dùng [[IP:45.77.123.200]] để dò mật khẩu.
Camera IP cấu hình tĩnh [[IP:192.168.100.25]].
Gateway IPv6: [[IP:2402:800:6312:9a1c::1]].
Truy vết IP [[IP:14.232.208.41]] cho thấy thiết bị ở Hà Nội.
Cấu hình proxy [[IP:127.0.0.1]] cổng 8080.
# ---------------------------------------------------------------- mixed classifieds / forms
Tuyển nhân viên bán hàng, nộp hồ sơ tại [[ADDRESS:số 9 Nguyễn Du, Hai Bà Trưng, Hà Nội]] hoặc gửi [[EMAIL:tuyendung@nhasach.vn]].
Cần tìm chủ nhân CCCD [[CCCD:001200012345]] tên [[NAME:Nguyễn Hoàng Long]], sinh năm [[DOB:2000]].
Đơn khiếu nại của ông [[NAME:Hà Văn Thắm]], trú tại [[ADDRESS:thôn 4, xã Ea Tu, TP. Buôn Ma Thuột]], điện thoại [[PHONE:0262 3851 234]].
Họ tên: [[NAME:Mai Văn Khánh]] - SĐT [[PHONE:0919 123 456]] - Email [[EMAIL:khanhmv@gmail.com]].
Đăng ký xe [[PLATE:51G-678.90]] chính chủ [[NAME:Lâm Thị Bích]], MST cá nhân [[TAX_CODE:8001234566]].
Hồ sơ vay vốn: anh [[NAME:Thái Văn Hậu]], CCCD [[CCCD:066092004321]], STK [[BANK_ACCOUNT:0451001234567]] Vietcombank.
Thông tin bệnh nhân: [[NAME:Lê Văn Thanh]], BHYT [[HEALTH_INSURANCE:DN4790012345678]], ĐT [[PHONE:0908 765 432]].
Gửi hàng cho chị [[NAME:Yến]] - [[PHONE:0977 456 123]] - [[ADDRESS:số 14 ngõ 3 Thái Hà, Đống Đa, Hà Nội]].
Người lao động [[NAME:Hứa Văn Tài]] sinh ngày [[DOB:02/02/1983]], mã số BHXH [[SOCIAL_INSURANCE:0187654321]].
# ---------------------------------------------------------------- harder cases, added after tuning stopped
Zalo/ĐT: [[PHONE:0901 23 45 67]] (chị [[NAME:Nhung]]), không tiếp cò.
Nhà em ở [[ADDRESS:K12/5 Lê Duẩn, Thanh Khê, Đà Nẵng]], anh qua lấy hàng nhé.
Gia đình ông [[NAME:Lò Văn Pá]] ở [[ADDRESS:bản Mường Thanh, xã Thanh Xương, huyện Điện Biên]].
[[NAME:Nguyễn Thị Bích Ngọc]] ([[DOB:1996]]) bị bắt giữ khi đang vận chuyển hàng cấm.
Chị [[NAME:H'Hen Niê]] là hoa hậu người dân tộc Ê Đê.
Số đt ông [[NAME:Tâm]]: [[PHONE:09 1234 5678]].
Gửi em [[NAME:Thanh Hằng]], [[PHONE:0934.56.78.90]], [[ADDRESS:số 3 ngõ 29 Láng Hạ, Ba Đình, HN]].
Liên hệ ngay [[PHONE:028.3910.1234]] hoặc email [[EMAIL:info@saigonhouse.vn]].
Anh [[NAME:Nguyễn Hữu Thắng]] sinh [[DOB:1975]] tại [[ADDRESS:xóm 2, xã Hưng Nguyên, huyện Hưng Nguyên, tỉnh Nghệ An]].
Ảnh chụp căn cước cho thấy số [[CCCD:038096 012 345]] bị che một phần.
Thẻ BHYT số [[HEALTH_INSURANCE:GD 4 38 3801234567]] được cấp cho hộ gia đình.
TK nhận tiền: [[BANK_ACCOUNT:9021 2345 6789]] - Sacombank - [[NAME:Trần Hoàng Phúc]].
Cô giáo [[NAME:Trần Ngọc Ánh]] nhận giải thưởng Võ Trường Toản.
Ông bà [[NAME:Đinh Công Tráng]] và [[NAME:Trần Thị Là]] có 5 người con.
Xe biển [[PLATE:37C 123.45]] do tài xế [[NAME:Hồ Sỹ Lương]] điều khiển.
Gặp [[NAME:Hiếu]] ở cổng trường lúc 5 giờ chiều.
Hội thảo do PGS.TS [[NAME:Nguyễn Văn Minh]] chủ trì.
Hỏi: Em là [[NAME:Phương]], năm nay 25 tuổi, muốn hỏi về thủ tục ly hôn.
Dự án nằm trên đường Phạm Văn Đồng, gần cầu Rồng.
Đường dây nóng của Bộ Công an: 069.219.4240 cho tổ chức, 113 cho khẩn cấp.
# ---------------------------------------------------------------- PHONE typed to evade filters (issue 10)
Cho thuê xe tự lái giá rẻ, gọi [[PHONE:0 9 7 2 1 1 3 3 5 5]] gặp anh [[NAME:Tài]].
Nhận sửa điều hòa tại nhà, hotline [[PHONE:0.9.3.8.2.4.6.1.7.5]].
sdt [[PHONE:0-3-6-5-9-8-7-1-2-4]] nt zalo nha
Ai cần mua chó Alaska liên hệ mình [[PHONE:0 8 5 6 . 7 7 . 8 9 . 0 1]]
Bán nhà hẻm xe hơi, LH chính chủ: [[PHONE:09 0 8 7 6 5 4 3 2]]
Số mình nè: [[PHONE:0_9_1_8_5_5_4_4_3_3]]
Cần tìm người ở ghép, nữ, liên hệ [[PHONE:0.7.0.6.6.6.1.2.3.4]] (không nhắn tin).
Dạy kèm tiếng Anh tại nhà, cô [[NAME:Ngân]]: [[PHONE:0 9 8 3 - 1 2 3 - 4 5 6]]
Gọi ngay [[PHONE:0 8 1 9 9 9 8 8 7 7]] để nhận báo giá.
Bạn nào thấy con mèo tam thể đi lạc thì báo giúp em qua số [[PHONE:0 3 9 8 5 5 2 2 1 1]] ạ
Số hotline cá nhân: [[PHONE:0 . 9 . 1 . 3 . 5 . 7 . 9 . 2 . 4 . 6]]
Tel [[PHONE:0 2 8 3 9 1 0 1 2 3 4]] gặp phòng kế toán.
Kết quả Vietlott Mega 6/45 kỳ này: 05 12 23 34 40 44.
Dãy số may mắn của bạn hôm nay là 0 7 3 9 1.
Bảng điểm cả tổ: 8 9 7 10 9 8 9 10 8 7.
Mã xác thực của bạn là 0 4 8 2 7 1, có hiệu lực trong 5 phút.
Đội hình ra sân theo sơ đồ 4-4-2, tỷ số hiệp một 0-0.
# ---------------------------------------------------------------- PHONE in the 11-digit plan retired in 2018
Số điện thoại liên lạc cũ của trường: [[PHONE:0163 456 7890]].
Nhà mình trước dùng số [[PHONE:01697.123.456]], nay đã đổi sang 039.
Tờ khai năm 2016 ghi số di động [[PHONE:0120 345 6789]] của anh [[NAME:Lộc]].
Danh bạ cũ: chú [[NAME:Sáu]] [[PHONE:01214 567 890]], cô [[NAME:Bảy]] [[PHONE:0125 678 9012]].
Liên hệ [[PHONE:0127-333-4444]] gặp chị [[NAME:Thủy]] (số VinaPhone cũ).
Số Gmobile [[PHONE:01992 345 678]] không còn hoạt động.
Đăng ký thuê bao [[PHONE:0164 888 9999]] từ năm 2012.
Thông tin người bán: [[PHONE:01862345678]], giao hàng toàn quốc.
Điện thoại: [[PHONE:(+84) 165 432 1098]]
Số [[PHONE:0122 999 8888]] là sim số đẹp MobiFone cũ.
Gọi [[PHONE:0129.456.7890]] để đặt lịch khám.
SIM đầu [[PHONE:0166 123 4567]] đã được chuyển thành đầu 036.
Đầu số 0161 và 0187 chưa bao giờ được cấp cho nhà mạng nào.
Mã hồ sơ 01234567890123 đã được tiếp nhận.
Chuyển đổi thuê bao 11 số sang 10 số hoàn tất vào ngày 15/11/2018.
# ---------------------------------------------------------------- PHONE with a country code in odd spacing
Văn phòng đại diện tại TP.HCM: [[PHONE:+84 28 3822 9999]].
Liên lạc khẩn cấp: [[PHONE:(+84) 988.777.666]].
Gọi cho tôi theo số [[PHONE:84-903-111-222]] khi đến sân bay.
Viber/WhatsApp: [[PHONE:+84 90 888 1234]]
Phone: [[PHONE:+84 (0)90 555 6677]]
Số của anh ấy ở Việt Nam là [[PHONE:+84.97.123.45.67]].
Hotline quốc tế [[PHONE:0084 28 3930 5555]] (giờ hành chính).
Mobile: [[PHONE:+ 84 93 222 3344]]
ĐT: [[PHONE:(84) 24 3733 1234]]
Em gửi số của mẹ em [[PHONE:+84 3 8 9 1 2 3 4 5 6]] nhé.
# ---------------------------------------------------------------- EMAIL spelled out to evade filters
CV gửi về [[EMAIL:hr.tuyendung [at] vinatech [dot] vn]] trước 30/9.
Liên hệ hợp tác: [[EMAIL:partner(at)greenfood.com.vn]]
mail của mình là [[EMAIL:hoangyen.92 a còng gmail chấm com]] nha
Gửi ảnh dự thi về [[EMAIL:cuocthi (at) baotre (dot) vn]].
Email: [[EMAIL:sales[at]hungthinhcorp.com]]
Ai cần file thì mail mình [[EMAIL:tuan.ng@gmail chấm com]].
Mail em: [[EMAIL:thuytien2003 @ yahoo . com]]
Thư góp ý xin gửi [[EMAIL:gopy[@]thuvien.edu.vn]].
Liên hệ: [[EMAIL:minhchau a móc outlook chấm com]]
mail nha: [[EMAIL:khanhlinh.pham a cong gmail cham com]]
Contact me at [[EMAIL:david.tran (at) company (dot) com]]
Email [[EMAIL:admin AT diendanxe DOT com]]
gửi qua [[EMAIL:huong.le(a)hotmail.com]] nhé chị
Nhắn mail: [[EMAIL:ngocbich a còng gmail]] là mình nhận được.
Báo giá gửi [[EMAIL:muahang{at}congtyabc.vn]]
Mail [[EMAIL:nv.long at gmail dot com]] nha
Dấu @ trong địa chỉ thư điện tử được đọc là a còng.
Cô giáo chấm bài rất kỹ, chấm xong còn ghi nhận xét.
Meet me at the cafe on Le Loi street.
Trang web chấm com đầu tiên ra đời năm 1985.
Ngồi cà phê at home cả ngày chán quá.
# ---------------------------------------------------------------- NAME typed without diacritics, with and without a cue
[[NAME:nguyen thi lan anh]] da chuyen khoan roi nhe shop
hom nay [[NAME:le van duc]] nghi om, nho lop truong bao co
cam on [[NAME:pham quoc huy]] da giup do
[[NAME:tran minh hieu]] lop 11A2 bi mat xe dap
Nho [[NAME:vo thi thu ha]] goi lai cho co chu nhiem
[[NAME:Hoang Van Nam]] la nguoi trung thuong
Gui anh [[NAME:Nguyen Duc Manh]], phong kinh doanh
chi [[NAME:Hanh]] oi, mai em qua lay do nha
ong [[NAME:Hai]] hang xom moi mua xe
Em [[NAME:Ngoc]] hoc lop 3 rat ngoan
bac si [[NAME:Le Minh Tri]] kham cho be
[[NAME:dinh van hoa]] bi phat vi vuot den do
Ho ten: [[NAME:Bui Thi Tuyet]]
toi la [[NAME:ngo duc tai]], sinh vien nam 3
[[NAME:duong van khanh]] va [[NAME:luong thi hue]] da ket hon
thay [[NAME:Tuan]] day hoa rat de hieu
Nguoi nhan: [[NAME:Huynh Thi Kim Ngan]], sdt [[PHONE:0905 123 789]]
[[NAME:le thi hong]] sinh nam [[DOB:2001]], que Thai Binh
tu van vien se goi lai cho ban trong 24h
minh van phan van giua hai mau xe
khu do thi moi dang xay dung rat dep
em dang thi cuoi ky nen chua tra loi tin nhan duoc
do van hoa moi vung khac nhau nen phong tuc cung khac
che do bao hanh 12 thang cho moi san pham
vo minh dang nau com, lat minh goi lai
ho gia dinh nao cung duoc ho tro 2 trieu
thi truong bat dong san dang chung lai
muc do hai long cua khach hang tang len
Di duong Nguyen Hue roi re trai la den
Hoc sinh truong Tran Dai Nghia dat giai quoc te
Cho Ben Thanh va pho Hang Ma rat dong vao dip Tet
chi co mot cach la lam lai tu dau
chung toi co Tet rat vui
ong ba ta thuong noi an qua nho ke trong cay
le hoi chua Huong bat dau tu mung 6 thang gieng
do thi hoa nhanh khien nhieu lang que bien mat
Thu tuong Pham Minh Chinh chu tri hoi nghi truc tuyen
# ---------------------------------------------------------------- NEGATIVES: historical figures and names used as places
Quán phở nổi tiếng trên phố Lý Quốc Sư lúc nào cũng đông.
Trường THPT chuyên Trần Đại Nghĩa công bố điểm chuẩn lớp 10.
Đoạn đường Điện Biên Phủ qua quận Bình Thạnh đang thi công.
Nhà văn hóa thiếu nhi nằm ở góc Trần Quốc Thảo và Võ Văn Tần.
Sinh viên ký túc xá Mễ Trì đi bộ ra đường Nguyễn Trãi bắt xe buýt.
Lễ hội đền Hùng thu hút hàng vạn người hành hương.
Ngô Quyền đánh tan quân Nam Hán trên sông Bạch Đằng năm 938.
Hai Bà Trưng khởi nghĩa chống quân Đông Hán năm 40.
Nguyễn Du viết Truyện Kiều vào đầu thế kỷ 19.
Tượng đài Trần Hưng Đạo ở Nam Định được đúc bằng đồng.
Bến Nhà Rồng, nơi Nguyễn Tất Thành ra đi tìm đường cứu nước, nay là bảo tàng.
Đại tướng Võ Nguyên Giáp chỉ huy chiến dịch Điện Biên Phủ.
Lý Thái Tổ dời đô từ Hoa Lư ra Thăng Long năm 1010.
Bệnh viện Hữu nghị Việt Đức và Bệnh viện Xanh Pôn đều ở quận Ba Đình cũ.
Nhà hát Lớn nằm ở quảng trường Cách Mạng Tháng Tám.
Trận đấu diễn ra tại sân vận động Hàng Đẫy.
Giao lộ Nguyễn Văn Cừ – Trần Hưng Đạo được lắp thêm đèn tín hiệu.
Các tuyến phố Lê Thái Tổ, Hàng Khay, Đinh Tiên Hoàng cấm xe cuối tuần.
Trường Tiểu học Kim Đồng tổ chức ngày hội đọc sách.
Cầu Nguyễn Văn Trỗi bắc qua sông Hàn.
Phan Chu Trinh chủ trương khai dân trí, chấn dân khí, hậu dân sinh.
Huân chương Hồ Chí Minh được trao cho tập thể nhà trường.
Dọc đường Hùng Vương có nhiều cây xanh cổ thụ.
Vua Minh Mạng cho xây dựng nhiều công trình ở kinh thành Huế.
Chiến thắng Bạch Đằng gắn với tên tuổi Ngô Quyền và Trần Hưng Đạo.
Khách sạn nằm trên đường Tôn Đức Thắng, nhìn ra sông Sài Gòn.
Đền thờ Lê Lai nằm ở Thanh Hóa.
Anh [[NAME:Nguyễn Văn Trỗi]], tài xế xe ôm công nghệ, vừa trả lại ví cho khách.
Bệnh nhân [[NAME:Trần Phú]], 45 tuổi, nhập viện do đau bụng.
Liên hệ ông [[NAME:Lê Lợi]] theo số [[PHONE:0912 444 555]] để xem nhà.
Chị [[NAME:Hồ Xuân Hương]] bán hàng online từ năm 2019.
Học sinh [[NAME:Lý Tự Trọng]] lớp 7A đạt giải nhì cuộc thi vẽ.
# ---------------------------------------------------------------- NEGATIVES: office holders named with their public office
Thủ tướng Phạm Minh Chính tiếp Đại sứ Hàn Quốc tại trụ sở Chính phủ.
Bộ trưởng Bộ Giáo dục và Đào tạo Nguyễn Kim Sơn trả lời chất vấn.
Chủ tịch UBND tỉnh Quảng Ninh Cao Tường Huy kiểm tra công tác phòng chống bão.
Tổng thống Pháp Emmanuel Macron thăm chính thức Việt Nam.
Phó Chủ tịch nước Võ Thị Ánh Xuân dự lễ khai mạc.
Bí thư Tỉnh ủy Nghệ An Nguyễn Đức Trung làm việc với huyện.
Thống đốc Ngân hàng Nhà nước Nguyễn Thị Hồng cho biết lãi suất sẽ ổn định.
Đại sứ Hoa Kỳ Marc Knapper đến thăm Đại học Quốc gia.
Chủ tịch Quốc hội Vương Đình Huệ chủ trì phiên họp.
Tổng Bí thư Nguyễn Phú Trọng gửi thư chúc Tết.
Thủ tướng yêu cầu làm rõ trách nhiệm của ông [[NAME:Nguyễn Văn Hòa]], nguyên giám đốc công ty.
Bộ trưởng đã gặp gia đình nạn nhân [[NAME:Lê Thị Thu]] tại bệnh viện.
# ---------------------------------------------------------------- NEGATIVES: numbers that look like PII
Năm 2023, GDP của Việt Nam tăng trưởng 5,05%.
Giá căn hộ khoảng 1.250.000.000 đồng, tương đương 3,2 tỷ cho căn lớn hơn.
Chiếc điện thoại mới có giá 15.000.000 VNĐ tại các cửa hàng.
Theo Điều 12 Luật Giao thông đường bộ, người điều khiển xe phải đội mũ bảo hiểm.
Nghị định 100/2019/NĐ-CP quy định mức phạt vi phạm giao thông.
Thông tư 01/2021/TT-BCA hướng dẫn về căn cước công dân.
Cuốn sách có mã ISBN 978-604-1-12345-6 do Nhà xuất bản Trẻ phát hành.
Ngày 2/9/1945 là ngày Quốc khánh của nước Việt Nam Dân chủ Cộng hòa.
Tỷ lệ hộ nghèo giảm xuống còn 2,93% vào cuối năm.
Con đường dài 12,5 km, rộng 36 m, tổng vốn đầu tư 2.400 tỷ đồng.
Việt Nam thắng Thái Lan 3-2 trong trận chung kết.
Phiên bản 1.2.3 của ứng dụng sửa nhiều lỗi bảo mật.
Kho hàng chứa 120.000 tấn gạo và 35.000 tấn ngô.
Hà Nội mưa to, nhiều tuyến phố ngập sâu.
Đoàn công tác đã đến TP.HCM vào sáng thứ Hai.
Dân số Việt Nam vượt 100.000.000 người vào năm 2023.
Tổng đài 1900 1234 hỗ trợ khách hàng 24/7.
Quyết định số 1234/QĐ-UBND ngày 15/3/2024 của UBND tỉnh.
Bộ luật Hình sự 2015, sửa đổi năm 2017, có 426 điều.
Kỳ thi tốt nghiệp THPT năm 2024 có hơn 1.071.000 thí sinh đăng ký.
Điểm chuẩn ngành Công nghệ thông tin là 28,5 điểm.
Lãi suất tiết kiệm kỳ hạn 12 tháng là 4,7%/năm.
Giá vàng SJC ở mức 82.500.000 đồng mỗi lượng.
Trận động đất mạnh 6,2 độ richter xảy ra lúc 10:30:45 sáng nay.
Chuyến bay VN123 cất cánh lúc 7 giờ 15 phút.
Công ty đạt doanh thu 12.345.678.900 đồng trong quý III.
Sự kiện diễn ra từ ngày 10/10/2024 đến ngày 20/10/2024.
Nhiệt độ cao nhất 38,5 độ C, độ ẩm 65%.
Tuyến metro số 1 dài 19,7 km với 14 nhà ga.
Mã sản phẩm SP-2024-0001 đã hết hàng.
Gói cước 5G giá 150.000 đồng/tháng cho 4 GB mỗi ngày.
Ngân sách năm 2025 dự kiến thu 1.966.839 tỷ đồng.
Tỷ số chung cuộc 2-1 nghiêng về đội khách.
Hội nghị lần thứ 8 Ban Chấp hành Trung ương khóa XIII bế mạc.
Thông tư 40/2021/TT-BTC có hiệu lực từ ngày 1/8/2021.
Học sinh lớp 12A1 đạt 100% tỷ lệ tốt nghiệp.
Diện tích tự nhiên của tỉnh là 3.359,84 km2.
Đợt rét đậm kéo dài từ 24 đến 28 tháng 12.
Vụ án xảy ra năm 2019 tại thành phố Đà Nẵng.
Mỗi suất học bổng trị giá 10.000.000 đồng.
Sản lượng lúa đạt 43,5 triệu tấn, xuất khẩu 8,1 triệu tấn.
Văn bản số 4567/BGDĐT-GDTrH gửi các sở giáo dục.
Cập nhật lên phiên bản 2.10.4.1 để sửa lỗi đăng nhập.
Giá cổ phiếu VNM đóng cửa ở 68.500 đồng, khối lượng 2.345.678 cổ phiếu.
Tuyển sinh 2.500 chỉ tiêu cho năm học 2024-2025.
Thông báo số 123/TB-ĐHBK ngày 05/04/2024.
Tổng kim ngạch xuất khẩu đạt 354,7 tỷ USD.
Khoảng cách từ Hà Nội đến Hải Phòng là 120 km.
Dự án có tổng mức đầu tư 5.500.000.000.000 đồng.
Máy tính xách tay cấu hình 16 GB RAM, ổ cứng 512 GB, giá 21.990.000 đ.
Lô hàng gồm 1.200 thùng, mỗi thùng 24 chai.
Kết quả xổ số: giải đặc biệt 123456, giải nhất 98765.
Tốc độ tối đa cho phép là 80 km/h trên đoạn cao tốc này.
Chiến dịch Điện Biên Phủ kết thúc thắng lợi ngày 7/5/1954.
Mức lương cơ sở tăng lên 2.340.000 đồng từ 1/7/2024.
Giải chạy thu hút 12.000 vận động viên từ 40 quốc gia.
Bảng giá: áo thun 199.000đ, quần jean 450.000đ.
Số ca mắc mới là 1.234, số ca khỏi bệnh là 987.
Bài báo được đăng trên tạp chí số 3 năm 2022, trang 45-52.
Chỉ số VN-Index tăng 12,34 điểm lên 1.245,67 điểm.
Tàu SE1 khởi hành lúc 19:25 từ ga Hà Nội.
Chi phí phát sinh ngày 12/3/2024 được hoàn lại trong tháng.
Học sinh năm 2024 phải thi bốn môn bắt buộc.
Lễ kỷ niệm 50 năm ngày sinh của trường diễn ra ngày 20/11/2023.
Sinh viên khóa 2020 tốt nghiệp vào tháng 6.
# ---------------------------------------------------------------- NEGATIVES: names of places, streets, organisations
Tuyến đường Nguyễn Trãi thường xuyên ùn tắc vào giờ cao điểm.
Trường THPT Lê Quý Đôn tổ chức lễ khai giảng năm học mới.
Phường Nguyễn Du là trung tâm của quận Hai Bà Trưng cũ.
Thành phố Hồ Chí Minh đón hơn 6 triệu lượt khách quốc tế.
Quận Hoàng Mai có nhiều dự án nhà ở xã hội.
Học sinh tham quan Hồ Gươm và đền Ngọc Sơn.
Cao Bằng nổi tiếng với thác Bản Giốc.
Sân bay Tân Sơn Nhất quá tải dịp Tết.
Bộ Y tế khuyến cáo người dân tiêm vắc xin đầy đủ.
Ngân hàng Nhà nước điều chỉnh lãi suất điều hành.
Cầu Long Biên được xây dựng từ thời Pháp thuộc.
Chợ Bến Thành là biểu tượng của Sài Gòn.
Phố đi bộ Nguyễn Huệ đông nghịt người đêm giao thừa.
Bệnh viện Bạch Mai tiếp nhận nhiều ca cấp cứu.
Đại học Bách khoa Hà Nội công bố điểm chuẩn.
Đoàn khách từ Thái Lan và Hàn Quốc đến tham quan Hạ Long.
Tỉnh Lâm Đồng có diện tích trồng chè lớn.
Quốc hội thông qua Luật Đất đai sửa đổi.
Ủy ban nhân dân thành phố Đà Nẵng họp báo.
Công ty Cổ phần Thế Giới Di Động mở thêm 50 cửa hàng.
Đường Võ Văn Kiệt được mở rộng thêm hai làn xe.
Các tỉnh Tây Nguyên bước vào mùa khô.
Đội tuyển Việt Nam tập luyện tại sân Mỹ Đình.
Chính phủ ban hành nghị quyết về phát triển kinh tế số.
Thủ tướng Chính phủ yêu cầu các bộ đẩy nhanh giải ngân.
Bảo tàng Phụ nữ Nam Bộ mở cửa đón khách trở lại.
Trung tâm Hội nghị Quốc gia nằm trên đại lộ Thăng Long.
Giải bóng đá V-League 2024 khởi tranh vào tháng 10.
Sông Hồng đang vào mùa lũ, mực nước dâng cao.
Khu du lịch Bà Nà thu hút đông khách mùa hè.
Học viện Nông nghiệp Việt Nam tuyển sinh ngành mới.
Quảng trường Lâm Viên là điểm check-in của Đà Lạt.
Trên đường Lê Duẩn, các tuyến xe buýt đã được điều chỉnh.
Liên Hợp Quốc đánh giá cao nỗ lực giảm nghèo của Việt Nam.
Cuộc thi được tổ chức tại Nhà văn hóa Thanh niên.
Huyện Lý Sơn nổi tiếng với tỏi và hải sản.
Chùa Một Cột là công trình kiến trúc độc đáo.
Trường Đại học Tôn Đức Thắng xếp hạng cao trong khu vực.
Nhà máy Thủy điện Hòa Bình xả lũ qua hai cửa đáy.
Tại Hà Nội và TP.HCM, giá xăng giảm nhẹ.
Quỹ Vắc xin phòng COVID-19 đã giải ngân hết.
Thị xã Sơn Tây có nhiều di tích lịch sử.
Tuyến phố Hàng Mã rực rỡ đèn lồng dịp Trung thu.
Công viên Thống Nhất được cải tạo.
Người dân Nam Bộ chuẩn bị đón Tết Nguyên đán.
""".strip().splitlines()


def parse(line: str) -> dict:
    """Strip ``[[TYPE:text]]`` markup from one line; return the clean text and gold spans."""
    out: list[str] = []
    spans: list[dict] = []
    pos = 0
    length = 0
    for m in MARK.finditer(line):
        chunk = line[pos:m.start()]
        out.append(chunk)
        length += len(chunk)
        value = m.group(2)
        spans.append({"type": m.group(1), "start": length, "end": length + len(value)})
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(line[pos:])
    return {"text": "".join(out), "spans": spans}


def build() -> list[dict]:
    """All examples in file order (comment and blank lines skipped)."""
    return [parse(line) for line in SENTENCES if line.strip() and not line.startswith("#")]


def main() -> None:
    examples = build()
    target = Path(__file__).with_name("pii_labelled.jsonl")
    with target.open("w", encoding="utf-8") as fh:
        for ex in examples:
            fh.write(json.dumps(ex, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
