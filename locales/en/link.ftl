link-code = Your link code: { $code }
    Open the bot on Zalo, Messenger or Telegram with your other account and type: /link { $code }
    The code works once, for { $minutes } minutes.
link-done = Your accounts are linked. You count as one person everywhere.
link-invalid = That code is wrong or has expired. Type /link on the other account to get a new one.
link-same = This code was made on this very account. Type it on your other account.
link-already = These two accounts were already linked.
link-too-many = Too many wrong codes. Try again in { $minutes } minutes.
