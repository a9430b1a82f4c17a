welcome = Xin chào! Mình là trợ lý cài đặt { $app }, ứng dụng phát hiện tiếp xúc gần để phòng, chống COVID-19.
    Mình sẽ hướng dẫn bạn cài { $app } từng bước, chỉ mất khoảng 2 phút.
welcome-back = Chào mừng bạn quay lại! Mình tiếp tục giúp bạn với { $app } nhé.
ask-unit = Bạn sinh sống hoặc làm việc ở đơn vị nào (xã, phường, cơ quan, doanh nghiệp…)? Hãy gõ một phần tên, ví dụ «Tân An», hoặc chọn từ danh sách.
btn-browse-units = 📋 Chọn từ danh sách
btn-search-unit = 🔎 Tìm đơn vị
browse-top = Chọn đơn vị của bạn:
browse-under = Các đơn vị thuộc { $unit }:
btn-choose-this = ✅ Chọn { $unit }
btn-up = ⬆️ Lên trên
btn-more = Trang sau ▶️
btn-back-page = ◀️ Trang trước
search-results = { $count ->
    [one] Tìm thấy 1 đơn vị cho «{ $query }»:
   *[other] Tìm thấy { $count } đơn vị cho «{ $query }». Chọn đơn vị của bạn:
}
search-none = Không tìm thấy đơn vị nào cho «{ $query }». Hãy thử gõ tên khác (có dấu hay không dấu đều được) hoặc chọn từ danh sách.
search-too-short = Hãy gõ ít nhất 2 ký tự của tên đơn vị.
unit-label-with-parent = { $unit } ({ $parent })
unit-joined = Bạn đã được ghi nhận thuộc đơn vị: { $unit }.
unit-unknown = Đơn vị này không còn trong danh sách. Hãy tìm lại đơn vị của bạn.
link-unknown = Đường dẫn bạn dùng không hợp lệ hoặc đã cũ. Hãy tìm đơn vị của bạn bằng cách gõ tên.
ask-phone = Bạn dùng loại điện thoại nào?
btn-android = 🤖 Android
btn-iphone = 🍏 iPhone
guide-android = Cài { $app } trên Android:
    1. Bấm nút «Mở Google Play» bên dưới (hoặc mở liên kết { $link }).
    2. Bấm «Cài đặt» và chờ tải xong.
    3. Mở { $app }, đọc và đồng ý điều khoản.
    4. Cho phép { $app } dùng Bluetooth và bật Bluetooth.
    5. Cho phép truy cập vị trí (Android cần quyền này để dò Bluetooth).
    6. Cho phép { $app } gửi thông báo.
    Xong rồi thì bấm «Tôi đã cài { $app }».
guide-iphone = Cài { $app } trên iPhone:
    1. Bấm nút «Mở App Store» bên dưới (hoặc mở liên kết { $link }).
    2. Bấm «Nhận» rồi xác nhận tải về.
    3. Mở { $app }, đọc và đồng ý điều khoản.
    4. Cho phép { $app } dùng Bluetooth và bật Bluetooth.
    5. Cho phép { $app } gửi thông báo.
    Xong rồi thì bấm «Tôi đã cài { $app }».
guide-warning = ⚠️ Chỉ cài { $app } từ liên kết chính thức ở trên. Cẩn thận với ứng dụng giả mạo có tên hoặc biểu tượng giống. Thông tin chính thức: { $website }
btn-open-store-android = ⬇️ Mở Google Play
btn-open-store-iphone = ⬇️ Mở App Store
btn-installed = ✅ Tôi đã cài { $app }
btn-other-phone = 🔁 Loại điện thoại khác
btn-guide = 📲 Hướng dẫn cài đặt
btn-status = 📊 Tình trạng của tôi
btn-choose-unit = 🏠 Chọn đơn vị
btn-language = 🌐 Ngôn ngữ / Language
thanks = 🎉 Cảm ơn bạn đã cài { $app }! Bạn đã góp phần bảo vệ bản thân, gia đình và cộng đồng.
already-confirmed = Bạn đã xác nhận cài { $app } trước đó rồi, mình chỉ tính một lần. Cảm ơn bạn!
share = Mời người thân và bạn bè cùng cài bằng đường dẫn của bạn: { $link }
btn-share = 📣 Chia sẻ với bạn bè
share-text = Cùng cài { $app } để phòng, chống COVID-19 nhé!
confirmed-needs-unit = Để được tính cho đơn vị của bạn, hãy chọn đơn vị.
status-header = 📊 Tình trạng của bạn
status-unit = Đơn vị: { $unit }
status-no-unit = Đơn vị: chưa chọn
status-confirmed = ✅ Đã cài { $app } (xác nhận ngày { $date })
status-not-confirmed = ⏳ Chưa xác nhận cài { $app }
status-referrals = { $count ->
    [0] Chưa có ai cài qua đường dẫn của bạn.
   *[other] Số người tham gia qua đường dẫn của bạn: { $count }
}
status-reminders-off = 🔕 Bạn đã tắt nhắc nhở (gõ /start để bật lại).
choose-language = Chọn ngôn ngữ / Choose your language:
language-name-vi = 🇻🇳 Tiếng Việt
language-name-en = 🇬🇧 English
language-set = Đã chuyển sang tiếng Việt.
help-citizen = Các lệnh:
    /start – bắt đầu
    /guide – hướng dẫn cài { $app }
    /installed – xác nhận đã cài
    /status – tình trạng của bạn
    /language – đổi ngôn ngữ
    /help – trợ giúp
    /stop – tắt nhắc nhở
help-leader = Lệnh cho cán bộ phụ trách:
    /broadcast – gửi tin đến thành viên
    /broadcasts – các lần gửi gần đây
    /coverage [MÃ] – số liệu đơn vị và các đơn vị trực thuộc
    /chart [MÃ] – biểu đồ
    /members [MÃ] – thành viên chưa xác nhận, đánh dấu đã kiểm tra
    /report N [ghi chú] – báo cáo số cài trực tiếp cho đơn vị của bạn; /report MÃ N [ghi chú] cho một đơn vị trực thuộc hoặc khi phụ trách nhiều đơn vị; /report -N ghi chú để sửa sai
    /export [MÃ] – xuất Excel/CSV
    /invite [MÃ] – đường dẫn và áp phích mời
    /linkgroup [MÃ] – liên kết nhóm (gõ trong nhóm); /unlinkgroup – bỏ liên kết
help-admin = Lệnh quản trị:
    /invite_leader MÃ – tạo lời mời cán bộ cho đơn vị
short-help = Mình là trợ lý cài đặt { $app }. Hãy chọn một mục bên dưới, hoặc gõ /help để xem các lệnh.
too-long = Tin nhắn quá dài (tối đa { $max } ký tự). Hãy gửi ngắn hơn.
stale-button = Nút này đã cũ hoặc không hợp lệ. Hãy chọn lại từ tin nhắn mới nhất.
stopped = 🔕 Đã tắt nhắc nhở. Bạn sẽ không nhận thêm tin nhắc. Gõ /start bất cứ lúc nào để bật lại.
resumed = 🔔 Đã bật lại nhắc nhở.
not-allowed = Bạn không có quyền dùng lệnh này.
group-hello = Xin chào cả nhóm! Mình giúp mọi người cài { $app }. Cán bộ phụ trách có thể liên kết nhóm với đơn vị bằng lệnh /linkgroup.
invite-usage = Cách dùng: /invite_leader MÃ_ĐƠN_VỊ (ví dụ /invite_leader 794)
invite-created = Lời mời cán bộ phụ trách { $unit } (dùng được một lần, hết hạn sau { $days } ngày):
    { $link }
invite-accepted = Bạn đã trở thành cán bộ phụ trách { $unit }. Gõ /help để xem các lệnh dành cho bạn.
invite-unknown = Lời mời này không tồn tại.
invite-expired = Lời mời này đã hết hạn. Hãy xin lời mời mới.
invite-used = Lời mời này đã được sử dụng.
error-generic = Xin lỗi, đã có lỗi xảy ra. Bạn vui lòng thử lại sau ít phút.
cmd-start = Bắt đầu
cmd-guide = Hướng dẫn cài đặt
cmd-installed = Tôi đã cài đặt
cmd-status = Tình trạng của tôi
cmd-language = Đổi ngôn ngữ
cmd-help = Trợ giúp
cmd-stop = Tắt nhắc nhở
small-talk-hello = Xin chào bạn! 👋
small-talk-thanks = Không có gì ạ! 😊
small-talk-ok = 👍
unit-dont-know = Không sao: bạn có thể cài ứng dụng trước và chọn đơn vị sau. Hãy bấm «Để sau», hoặc chọn đơn vị từ danh sách.
btn-skip-unit = ⏭ Để sau
unit-skipped = Được, mình cùng cài ứng dụng trước nhé. Mình sẽ hỏi lại đơn vị của bạn sau (bạn có thể chọn bất cứ lúc nào bằng /start hoặc trong /status).
admin-menu = Bạn là quản trị viên của chiến dịch { $app }. Bạn muốn làm gì?
    /coverage – độ phủ của toàn bộ cây đơn vị hoặc một đơn vị
    /export – xuất bảng độ phủ ra tệp bảng tính
    /invite_leader MÃ_ĐƠN_VỊ – mời cán bộ phụ trách đơn vị
    /broadcast – gửi tin nhắn tới một đơn vị và các đơn vị trực thuộc
    /help – tất cả các lệnh
btn-admin-coverage = 📊 Độ phủ
btn-admin-export = 📥 Xuất bảng
btn-admin-broadcast = 📣 Gửi thông báo
btn-admin-invite = 👤 Mời cán bộ
admin-invite-help = Để mời cán bộ phụ trách một đơn vị, hãy gửi /invite_leader kèm mã đơn vị, ví dụ /invite_leader 794. Bạn sẽ nhận một đường dẫn dùng một lần để gửi cho cán bộ đó. Mã đơn vị có trong /coverage và /export.
bc-pick-unit = Gửi thông báo tới đơn vị nào? Thông báo sẽ tới mọi người trong đơn vị và các đơn vị trực thuộc. Hãy chọn bên dưới, hoặc gửi /broadcast MÃ_ĐƠN_VỊ.
btn-bc-unit = { $unit } ({ $code })
no-units-hint = ⚠️ Chưa nhập danh sách đơn vị nào nên người dân không chọn được đơn vị. Người vận hành cần chạy: bluezone-bot units import DON_VI.csv (hoặc bluezone-bot units import --sample để dùng thử).
