bc-usage = Which unit do you want to message? Use: /broadcast UNIT_CODE (your units: { $units })
bc-ask-text = Message every member of { $unit } and the units below it. Type the message, or send a photo with a caption:
bc-ask-again = The message is empty. Type the message, or send a photo with a caption:
bc-preview-photo = Preview of the message to { $unit }: the photo above, exactly as members will get it.

    Recipients: { $everyone } people ({ $unconfirmed } have not confirmed installing) and { $groups } linked groups (groups only get messages sent to everyone). Send to whom?
bc-caption = { $text }
bc-photo-elsewhere = { $count } of them use Zalo, Messenger or another bot, where a photo sent to this bot cannot be shown: they get the caption only.
bc-preview = Preview of the message to { $unit }:

    { $text }

    Recipients: { $everyone } people ({ $unconfirmed } have not confirmed installing) and { $groups } linked groups (groups only get messages sent to everyone). Send to whom?
btn-bc-everyone = 👥 Everyone ({ $count })
btn-bc-unconfirmed = ⏳ Only not confirmed ({ $count })
btn-bc-confirm = ✅ Send now
btn-bc-cancel = ✖️ Cancel
bc-confirm-ask = Send this message to { $count } people?
bc-empty = Nobody to send to (everyone opted out, cannot be reached, or there are no members yet).
bc-queued = ⏳ Queued for { $count } recipients. This message shows the progress.
bc-already = This message was already sent or cancelled.
bc-discarded = Message cancelled.
bc-progress = 📤 Message #{ $id }: { $sent }/{ $total } delivered ({ $percent }% handled{ $classes }), about { $eta } left.
bc-summary = ✅ Message #{ $id } finished: { $sent }/{ $total } delivered.
bc-summary-stopped = ⛔ Message #{ $id } stopped: { $sent }/{ $total } delivered.
bc-list-header = Recent messages:
bc-list-item = #{ $id } { $unit } ({ $date }): { $status ->
        [running] sending
        [done] finished
        [cancelled] cancelled
        [cancelling] stopping
       *[other] { $status }
    }, { $sent }/{ $total } delivered{ $classes }
bc-list-none = You have not sent any message yet.
btn-bc-stop = ⛔ Stop #{ $id }
bc-stop-ask = Stop message #{ $id }? About { $left } recipients have not got it yet; they will not get it.
btn-bc-stop-now = ⛔ Stop now
btn-bc-keep = ▶️ Keep sending
bc-kept = Message #{ $id } keeps sending.
bc-stopped = ⛔ Message #{ $id } stopped: { $sent } had got it; the other { $left } will not (a message already on its way may still arrive). The final figures follow when the last ones are settled.
bc-not-running = This message is no longer being sent.
reminder = 👋 Have you installed { $app } yet? It takes 2 minutes to protect you and your community. If you have, press the button below to confirm.
digest = 📊 Daily report – { $unit }
    • New confirmations in 24 hours: { $new }
    • Confirmed: { $confirmed }/{ $members } members
    • Coverage: { $coverage } (target { $target })
    • Rank: { $rank }/{ $siblings } among sibling units
digest-no-population = population unknown

# Broadcast status in one message, and outcome classes (issue 9, §4 and §9).
bc-head = ✉️ Message #{ $id } to { $unit }:

    { $text }
bc-head-photo = ✉️ Message #{ $id } to { $unit }: the photo above.
bc-queued-separate = ⏳ Message #{ $id } is queued for { $count } recipients. You will get a summary when it is done.
bc-progress-stopping = ⛔ Stopping message #{ $id }: { $sent }/{ $total } delivered; the other { $left } have not got it and will not (a message already on its way may still arrive).
bc-n-skipped = { $count } skipped: outside their platform's messaging window (not an error)
bc-n-unreachable = { $count } unreachable: blocked the bot or left
bc-n-failed = { $count } failed after retries
bc-n-cancelled = { $count } not sent: stopped

# Reach preview (issue 11)
bc-reach-head = Who this reaches now, per platform:
bc-reach-line = • { $parts }
bc-reach-platform = { $platform ->
    [telegram] Telegram
    [zalo] Zalo
    [messenger] Messenger
   *[other] Console
}: { $free } free now
bc-reach-billed = { $count } at a cost: { $count } × { $price } = { $total } (budget left { $left }; it pays for { $affordable })
bc-reach-unreachable = { $count } unreachable now (window closed { $closed }, blocked or unfollowed { $blocked }, opted out { $opted })
bc-reach-time = about { $time } at { $rate } messages/s
bc-reach-paid = at paid speed about { $time }, { $stars } Stars
btn-bc-send-billed = 💳 Send, billed too ({ $count }, { $cost })
btn-bc-send-paid = ⚡ Paid speed ({ $stars } Stars)
bc-n-billed = { $count } billed ({ $cost })
bc-n-excluded = { $count } not sent: blocked, unfollowed or opted out

# Reminders inside the free windows (issue 11): the taps a reminder invites.
btn-remind-help = 🙋 I need help
btn-remind-tomorrow = ⏰ Remind me tomorrow
remind-tomorrow-ok = 👍 All right, I will remind you tomorrow. If you need help installing { $app }, press the button below.
