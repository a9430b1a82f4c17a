bc-usage = Bạn muốn gửi cho đơn vị nào? Dùng: /broadcast MÃ_ĐƠN_VỊ (đơn vị bạn phụ trách: { $units })
bc-ask-text = Gửi tin nhắn cho toàn bộ thành viên { $unit } và các đơn vị trực thuộc. Hãy nhập nội dung tin nhắn, hoặc gửi một ảnh kèm chú thích:
bc-ask-again = Tin nhắn đang trống. Hãy nhập nội dung tin nhắn, hoặc gửi một ảnh kèm chú thích:
bc-preview-photo = Xem trước tin nhắn gửi { $unit }: ảnh ở trên, đúng như thành viên sẽ nhận.

    Người nhận: { $everyone } người ({ $unconfirmed } người chưa xác nhận cài đặt) và { $groups } nhóm liên kết (nhóm chỉ nhận khi gửi cho tất cả). Gửi cho ai?
bc-caption = { $text }
bc-photo-elsewhere = { $count } người nhận dùng Zalo, Messenger hoặc một bot khác, nơi không hiển thị được ảnh gửi tới bot này: họ chỉ nhận phần chú thích.
bc-preview = Xem trước tin nhắn gửi { $unit }:

    { $text }

    Người nhận: { $everyone } người ({ $unconfirmed } người chưa xác nhận cài đặt) và { $groups } nhóm liên kết (nhóm chỉ nhận khi gửi cho tất cả). Gửi cho ai?
btn-bc-everyone = 👥 Tất cả ({ $count })
btn-bc-unconfirmed = ⏳ Chỉ người chưa xác nhận ({ $count })
btn-bc-confirm = ✅ Gửi ngay
btn-bc-cancel = ✖️ Huỷ
bc-confirm-ask = Gửi tin nhắn này cho { $count } người?
bc-empty = Không có người nhận nào (mọi người đã tắt nhắc nhở, không liên lạc được, hoặc chưa có thành viên).
bc-queued = ⏳ Đã xếp hàng gửi cho { $count } người nhận. Tiến độ được cập nhật ngay trong tin nhắn này.
bc-already = Tin nhắn này đã được gửi hoặc đã huỷ.
bc-discarded = Đã huỷ tin nhắn.
bc-progress = 📤 Tin nhắn #{ $id }: { $sent }/{ $total } người đã nhận (xử lý { $percent }%{ $classes }), còn khoảng { $eta }.
bc-summary = ✅ Tin nhắn #{ $id } đã gửi xong: { $sent }/{ $total } người đã nhận.
bc-summary-stopped = ⛔ Tin nhắn #{ $id } đã dừng: { $sent }/{ $total } người đã nhận.
bc-list-header = Các tin nhắn gần đây:
bc-list-item = #{ $id } { $unit } ({ $date }): { $status ->
        [running] đang gửi
        [done] đã xong
        [cancelled] đã huỷ
        [cancelling] đang dừng
       *[other] { $status }
    }, { $sent }/{ $total } người đã nhận{ $classes }
bc-list-none = Bạn chưa gửi tin nhắn nào.
btn-bc-stop = ⛔ Dừng #{ $id }
bc-stop-ask = Dừng tin nhắn #{ $id }? Khoảng { $left } người chưa nhận được; họ sẽ không nhận được nữa.
btn-bc-stop-now = ⛔ Dừng ngay
btn-bc-keep = ▶️ Tiếp tục gửi
bc-kept = Tin nhắn #{ $id } vẫn tiếp tục được gửi.
bc-stopped = ⛔ Đã dừng tin nhắn #{ $id }: { $sent } người đã nhận; { $left } người còn lại sẽ không nhận được (tin đang trên đường gửi vẫn có thể đến). Số liệu cuối cùng sẽ có khi các tin cuối được xử lý xong.
bc-not-running = Tin nhắn này không còn đang gửi.
reminder = 👋 Bạn đã cài { $app } chưa? Chỉ mất 2 phút để bảo vệ bạn và cộng đồng. Nếu đã cài, hãy bấm nút bên dưới để xác nhận.
digest = 📊 Báo cáo hằng ngày – { $unit }
    • Xác nhận mới trong 24 giờ: { $new }
    • Đã xác nhận: { $confirmed }/{ $members } thành viên
    • Độ phủ: { $coverage } (mục tiêu { $target })
    • Xếp hạng: { $rank }/{ $siblings } trong các đơn vị cùng cấp
digest-no-population = chưa có số dân

# Trạng thái tin nhắn gửi hàng loạt trong một tin nhắn, và các nhóm kết quả (issue 9, §4 và §9).
bc-head = ✉️ Tin nhắn #{ $id } gửi { $unit }:

    { $text }
bc-head-photo = ✉️ Tin nhắn #{ $id } gửi { $unit }: ảnh ở trên.
bc-queued-separate = ⏳ Tin nhắn #{ $id } đã được xếp hàng gửi cho { $count } người nhận. Bạn sẽ nhận được bản tổng kết khi gửi xong.
bc-progress-stopping = ⛔ Đang dừng tin nhắn #{ $id }: { $sent }/{ $total } người đã nhận; { $left } người còn lại chưa nhận và sẽ không nhận được (tin đang trên đường gửi vẫn có thể đến).
bc-n-skipped = { $count } bị bỏ qua: ngoài khung thời gian nhắn tin của nền tảng (không phải lỗi)
bc-n-unreachable = { $count } không liên lạc được: đã chặn bot hoặc rời đi
bc-n-failed = { $count } gửi lỗi sau nhiều lần thử
bc-n-cancelled = { $count } không gửi: đã dừng

# Reach preview (issue 11)
bc-reach-head = Số người tin nhắn này tới được ngay bây giờ, theo từng nền tảng:
bc-reach-line = • { $parts }
bc-reach-platform = { $platform ->
    [telegram] Telegram
    [zalo] Zalo
    [messenger] Messenger
   *[other] Bảng điều khiển
}: { $free } người miễn phí
bc-reach-billed = { $count } người mất phí: { $count } × { $price } = { $total } (ngân sách còn { $left }, đủ cho { $affordable } người)
bc-reach-unreachable = { $count } người chưa thể nhắn lúc này (hết hạn cửa sổ nhắn tin { $closed }, đã chặn hoặc bỏ theo dõi { $blocked }, đã từ chối nhận tin { $opted })
bc-reach-time = mất khoảng { $time } với tốc độ { $rate } tin/giây
bc-reach-paid = gửi nhanh có phí: khoảng { $time }, tốn { $stars } Stars
btn-bc-send-billed = 💳 Gửi cả tin mất phí ({ $count }, { $cost })
btn-bc-send-paid = ⚡ Gửi nhanh có phí ({ $stars } Stars)
bc-n-billed = { $count } tin mất phí ({ $cost })
bc-n-excluded = { $count } người không được gửi: đã chặn, bỏ theo dõi hoặc từ chối nhận tin

# Reminders inside the free windows (issue 11): the taps a reminder invites.
btn-remind-help = 🙋 Tôi cần giúp đỡ
btn-remind-tomorrow = ⏰ Nhắc tôi ngày mai
remind-tomorrow-ok = 👍 Được rồi, mai mình sẽ nhắc bạn nhé. Nếu cần hướng dẫn cài { $app }, hãy bấm nút bên dưới.
