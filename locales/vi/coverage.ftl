cov-header = 📊 { $unit }: đã cài { $rate } (chỉ tiêu { $target }){ $trend ->
    [up] {" "}▲
    [down] {" "}▼
   *[other] {""}
}
cov-header-no-pop = 📊 { $unit }: { $installs } lượt cài (chưa có số dân){ $trend ->
    [up] {" "}▲
    [down] {" "}▼
   *[other] {""}
}
cov-counts = Thành viên { $members } · xác nhận { $confirmed } (kiểm tra trực tiếp { $verified }, tự xác nhận { $selfconfirmed }) · báo cáo trực tiếp { $reported } · dân số { $population }
cov-counts-no-pop = Thành viên { $members } · xác nhận { $confirmed } (kiểm tra trực tiếp { $verified }, tự xác nhận { $selfconfirmed }) · báo cáo trực tiếp { $reported }
cov-member-rate = Tỷ lệ thành viên đã xác nhận: { $rate }
cov-gap = ⚠️ Còn thiếu { $gap } lượt cài để đạt chỉ tiêu.
cov-reached = ✅ Đã đạt chỉ tiêu.
cov-children = { $count } đơn vị trực thuộc, tỷ lệ thấp nhất trước (trang { $page }/{ $pages }):
cov-row = { $rank }. { $unit }: { $rate }{ $trend ->
    [up] {" "}▲
    [down] {" "}▼
   *[other] {""}
}{ $under ->
    [yes] {" "}⚠️
   *[other] {""}
}
cov-row-no-pop = { $rank }. { $unit }: { $installs } lượt cài{ $trend ->
    [up] {" "}▲
    [down] {" "}▼
   *[other] {""}
}
cov-table = { $rows }
cov-need-unit = Hãy ghi mã đơn vị: /{ $command } MÃ
cov-no-children = Không có đơn vị trực thuộc.
cov-country = Cả nước
cov-no-units = Chưa có đơn vị nào được nhập.
cov-not-leader = Lệnh này dành cho cán bộ phụ trách đơn vị. Hãy đề nghị quản trị viên gửi lời mời cán bộ.
cov-not-yours = Bạn chỉ xem và quản lý được các đơn vị mình phụ trách và các đơn vị trực thuộc.
cov-unknown-unit = Không có đơn vị nào mang mã { $code }.
btn-cov-prev = ◀️ Trang trước
btn-cov-next = Trang sau ▶️
btn-cov-up = ⬆️ Lên trên
btn-cov-open = 🔎 { $unit }
btn-cov-chart = 📈 Biểu đồ
btn-cov-export = 📥 Excel/CSV
chart-title = Tỷ lệ cài đặt: { $unit }
chart-bars = Tỷ lệ theo đơn vị
chart-trend = Diễn biến { $days } ngày qua
chart-target = Chỉ tiêu
chart-no-data = Chưa có số liệu
chart-caption = 📈 Tỷ lệ cài đặt của { $unit }: các đơn vị trực thuộc so với chỉ tiêu, và diễn biến 30 ngày.
export-caption = 📥 Số liệu cài đặt của { $unit }.
export-title = Tỷ lệ cài đặt của { $unit } ngày { $date }
export-sheet-figures = Số liệu
export-sheet-history = Theo ngày
export-col-code = Mã
export-col-unit = Đơn vị
export-col-level = Cấp
export-col-population = Dân số
export-col-members = Thành viên
export-col-confirmed = Đã xác nhận
export-col-verified = Đã kiểm tra
export-col-reported = Báo cáo trực tiếp
export-col-coverage = Tỷ lệ %
export-col-target = Chỉ tiêu
export-col-gap = Còn thiếu
export-col-day = Ngày
unit-level = { $kind ->
    [province] Tỉnh/Thành phố
    [district] Quận/Huyện
    [commune] Xã/Phường
    [agency] Cơ quan
    [business] Doanh nghiệp
    [union] Đoàn thể
   *[other] Khác
}
report-usage = Cách dùng: /report N [ghi chú] cộng N lượt cài trực tiếp (bưu điện, ngân hàng, bộ phận một cửa) cho đơn vị của bạn; /report -N ghi chú để sửa sai. Cho một đơn vị trực thuộc, hoặc nếu phụ trách nhiều đơn vị: /report MÃ N [ghi chú].
report-done = Đã ghi { $amount } lượt cài cho { $unit }. Tổng báo cáo trực tiếp: { $total }. Tỷ lệ hiện nay: { $coverage }.
report-negative = Không ghi: { $amount } sẽ làm số lượt cài báo cáo của { $unit } nhỏ hơn 0 (hiện là { $total }).
report-zero = Số lượng phải khác 0.
report-which-unit = Bạn phụ trách nhiều đơn vị. Hãy ghi rõ: /report MÃ N [ghi chú], MÃ là một trong: { $units }
members-header = { $unit }: { $count } thành viên chưa xác nhận (trang { $page }/{ $pages }). Sau khi kiểm tra điện thoại, bấm số thứ tự của người đó để đánh dấu đã kiểm tra.
members-none = Mọi thành viên của { $unit } đã xác nhận. 🎉
members-row = { $rank }. { $name } – { $unit }
btn-verify = ✅ { $rank }
verified-done = ✅ Đã đánh dấu { $name } là đã kiểm tra.
verified-confirmed = ✅ Đã đánh dấu { $name } là đã kiểm tra và được tính là đã cài.
verified-already = { $name } đã được kiểm tra trước đó.
invite-unit = Đường link mời của { $unit }: ai mở link sẽ tham gia đơn vị và nhận hướng dẫn cài đặt.
    { $link }
    Hãy in áp phích dưới đây và dán tại nơi làm việc, bưu điện, bộ phận một cửa.
poster-heading = Hãy cài đặt { $app }!
poster-line-1 = Quét mã QR bằng camera điện thoại.
poster-line-2 = Mở cuộc trò chuyện và làm theo các bước để cài { $app }.
poster-line-3 = Bấm "Tôi đã cài { $app }" để được ghi nhận.
poster-link = Hoặc mở:
group-link-private = Hãy gửi /linkgroup trong nhóm muốn liên kết (thêm tôi vào nhóm trước).
group-link-not-admin = Chỉ quản trị viên của nhóm đồng thời là cán bộ phụ trách đơn vị mới liên kết được nhóm.
group-link-not-leader = Chỉ cán bộ phụ trách đơn vị mới liên kết được nhóm này.
group-link-which = Bạn phụ trách nhiều đơn vị. Hãy gửi /linkgroup MÃ, MÃ là một trong: { $units }
group-linked = Nhóm này đã được liên kết với { $unit }. Thành viên bấm nút dưới đây sẽ được tính cho đơn vị.
group-guide = 📲 Cùng cài { $app } cho { $unit } nào!
    Android: { $android }
    iPhone: { $ios }
    Cài xong, hãy bấm nút dưới đây.
group-unlinked = Nhóm này không còn liên kết với { $unit }.
group-not-linked = Nhóm này chưa liên kết với đơn vị nào.
group-thanks-private = 🎉 Cảm ơn bạn đã cài { $app }! Bạn được tính cho { $unit }.
group-thanks-public = 🎉 Cảm ơn { $name } đã cài { $app }!
group-already = Bạn đã được ghi nhận rồi. Cảm ơn bạn đã cài { $app }!
btn-group-installed = ✅ Tôi đã cài { $app }
btn-group-android = ⬇️ Android
btn-group-iphone = ⬇️ iPhone
btn-group-open-bot = 💬 Hướng dẫn từng bước (nhắn riêng)
cov-no-unit-people = Chưa thuộc đơn vị nào: { $members } người, trong đó { $confirmed } người đã xác nhận (được tính cho đơn vị khi họ chọn đơn vị).
members-empty = { $unit } chưa có thành viên nào. Hãy mời mọi người bằng /invite { $code } (kèm áp phích có mã QR) hoặc chia sẻ đường dẫn này:
    { $link }
cov-reach = Chưa xác nhận: { $free } người nhắn được ngay, miễn phí · { $billed } người nhắn được nhưng mất phí · { $unreachable } người hiện không nhắn được (cần gặp trực tiếp: /members unreachable)
btn-members-unreachable = 📵 Không nhắn được ({ $count })
unreach-header = { $unit }: { $count } thành viên chưa xác nhận và hiện không thể nhắn tin (trang { $page }/{ $pages }).
unreach-none = Mọi thành viên chưa xác nhận của { $unit } đều nhắn tin được lúc này. 🎉
unreach-row = { $rank }. { $name } – { $unit } – { $platform ->
        [telegram] Telegram
        [zalo] Zalo
        [messenger] Messenger
       *[other] máy tính
    }, { $why ->
        [blocked] đã chặn hoặc bỏ theo dõi
        [opted_out] đã xin không nhận tin
       *[window] lâu rồi chưa nhắn tin
    }
unreach-hint = Hãy gặp trực tiếp những người này: bưu điện, ngân hàng và bộ phận một cửa có thể giúp họ cài ứng dụng ngay tại chỗ. Có thể in danh sách này hoặc dùng tệp Excel/CSV.
export-col-reach-free = Chưa xác nhận: nhắn được miễn phí
export-col-reach-billed = Chưa xác nhận: nhắn được, mất phí
export-col-reach-none = Chưa xác nhận: không nhắn được
