link-code = Mã liên kết của bạn: { $code }
    Mở bot trên Zalo, Messenger hoặc Telegram bằng tài khoản kia và gõ: /link { $code }
    Mã chỉ dùng được một lần, trong { $minutes } phút.
link-done = Đã liên kết hai tài khoản. Bạn được tính là một người ở mọi nơi.
link-invalid = Mã không đúng hoặc đã hết hạn. Gõ /link trên tài khoản kia để lấy mã mới.
link-same = Mã này được tạo từ chính tài khoản này. Hãy gõ nó trên tài khoản kia.
link-already = Hai tài khoản này đã được liên kết từ trước.
link-too-many = Bạn đã nhập sai mã quá nhiều lần. Hãy thử lại sau { $minutes } phút.
