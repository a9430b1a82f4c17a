cov-header = 📊 { $unit }: { $rate } installed (target { $target }){ $trend ->
    [up] {" "}▲
    [down] {" "}▼
   *[other] {""}
}
cov-header-no-pop = 📊 { $unit }: { $installs ->
    [one] 1 install
   *[other] { $installs } installs
} (no population figure){ $trend ->
    [up] {" "}▲
    [down] {" "}▼
   *[other] {""}
}
cov-counts = Members { $members } · confirmed { $confirmed } (checked in person { $verified }, self-confirmed { $selfconfirmed }) · reported in person { $reported } · population { $population }
cov-counts-no-pop = Members { $members } · confirmed { $confirmed } (checked in person { $verified }, self-confirmed { $selfconfirmed }) · reported in person { $reported }
cov-member-rate = Members who confirmed: { $rate }
cov-gap = ⚠️ { $gap } more installs needed to reach the target.
cov-reached = ✅ Target reached.
cov-children = { $count ->
    [one] 1 unit below, lowest coverage first (page { $page }/{ $pages }):
   *[other] { $count } units below, lowest coverage first (page { $page }/{ $pages }):
}
cov-row = { $rank }. { $unit }: { $rate }{ $trend ->
    [up] {" "}▲
    [down] {" "}▼
   *[other] {""}
}{ $under ->
    [yes] {" "}⚠️
   *[other] {""}
}
cov-row-no-pop = { $rank }. { $unit }: { $installs ->
    [one] 1 install
   *[other] { $installs } installs
}{ $trend ->
    [up] {" "}▲
    [down] {" "}▼
   *[other] {""}
}
cov-table = { $rows }
cov-need-unit = Please name a unit by its code: /{ $command } CODE
cov-no-children = No units below this one.
cov-country = Whole country
cov-no-units = No units have been imported yet.
cov-not-leader = This command is for unit leaders. Ask an administrator for a leader invitation.
cov-not-yours = You can only see and manage the units you lead and the units below them.
cov-unknown-unit = There is no unit with the code { $code }.
btn-cov-prev = ◀️ Previous
btn-cov-next = Next ▶️
btn-cov-up = ⬆️ Up
btn-cov-open = 🔎 { $unit }
btn-cov-chart = 📈 Chart
btn-cov-export = 📥 Excel/CSV
chart-title = Coverage: { $unit }
chart-bars = Coverage by unit
chart-trend = Trend over the last { $days } days
chart-target = Target
chart-no-data = No data
chart-caption = 📈 Coverage of { $unit }: the units below it, with the target line, and the trend over 30 days.
export-caption = 📥 Coverage figures of { $unit }.
export-title = Coverage of { $unit } on { $date }
export-sheet-figures = Figures
export-sheet-history = Daily history
export-col-code = Code
export-col-unit = Unit
export-col-level = Level
export-col-population = Population
export-col-members = Members
export-col-confirmed = Confirmed
export-col-verified = Verified
export-col-reported = Reported in person
export-col-coverage = Coverage %
export-col-target = Target
export-col-gap = Gap to target
export-col-day = Day
unit-level = { $kind ->
    [province] Province
    [district] District
    [commune] Commune
    [agency] Agency
    [business] Business
    [union] Union
   *[other] Other
}
report-usage = Usage: /report N [note] adds N installs done in person (post office, bank, service centre) to your unit; /report -N note corrects a mistake. For a unit below yours, or if you lead several units: /report CODE N [note].
report-done = Recorded { $amount } installs for { $unit }. Reported in person so far: { $total }. Coverage now: { $coverage }.
report-negative = Not recorded: { $amount } would take the installs reported for { $unit } below zero (now { $total }).
report-zero = The number must not be 0.
report-which-unit = You lead several units. Say which one: /report CODE N [note], with CODE one of: { $units }
members-header = { $unit }: { $count } members have not confirmed yet (page { $page }/{ $pages }). After checking a member's phone, tap their number to mark them verified.
members-none = Every member of { $unit } has confirmed. 🎉
members-row = { $rank }. { $name } – { $unit }
btn-verify = ✅ { $rank }
verified-done = ✅ { $name } is marked verified.
verified-confirmed = ✅ { $name } is marked verified and counted as installed.
verified-already = { $name } was verified already.
invite-unit = Invitation link for { $unit }: anyone who opens it joins the unit and gets the installation guide.
    { $link }
    Print the poster below and put it up at workplaces, post offices and service centres.
poster-heading = Install { $app }!
poster-line-1 = Scan the QR code with your phone camera.
poster-line-2 = Open the chat and follow the steps to install { $app }.
poster-line-3 = Tap "I have installed { $app }" to be counted.
poster-link = Or open:
group-link-private = Send /linkgroup in the group you want to link (add me to the group first).
group-link-not-admin = Only an administrator of this group who leads the unit can link it.
group-link-not-leader = Only a leader of the unit can link this group.
group-link-which = You lead several units. Send /linkgroup CODE, with CODE one of: { $units }
group-linked = This group is now linked to { $unit }. Members who tap the button below are counted for the unit.
group-guide = 📲 Let's all install { $app } for { $unit }!
    Android: { $android }
    iPhone: { $ios }
    When you have installed it, tap the button below.
group-unlinked = This group is no longer linked to { $unit }.
group-not-linked = This group is not linked to any unit.
group-thanks-private = 🎉 Thank you for installing { $app }! You are counted for { $unit }.
group-thanks-public = 🎉 Thank you { $name } for installing { $app }!
group-already = You are already counted. Thank you for installing { $app }!
btn-group-installed = ✅ I have installed { $app }
btn-group-android = ⬇️ Android
btn-group-iphone = ⬇️ iPhone
btn-group-open-bot = 💬 Step-by-step guide (private chat)
cov-no-unit-people = Without a unit yet: { $members } { $members ->
        [one] person
       *[other] people
    } ({ $confirmed } confirmed; they count for a unit once they choose it).
members-empty = { $unit } has no members yet. Invite people with /invite { $code } (a poster with a QR code) or share this link:
    { $link }
cov-reach = Not confirmed yet: { $free } reachable now for free · { $billed } reachable at a cost · { $unreachable } cannot be reached now (visit them in person: /members unreachable)
btn-members-unreachable = 📵 Cannot be reached ({ $count })
unreach-header = { $unit }: { $count } { $count ->
        [one] member has
       *[other] members have
    } not confirmed and cannot be reached by message now (page { $page }/{ $pages }).
unreach-none = Every member of { $unit } who has not confirmed can be reached by message now. 🎉
unreach-row = { $rank }. { $name } – { $unit } – { $platform ->
        [telegram] Telegram
        [zalo] Zalo
        [messenger] Messenger
       *[other] console
    }, { $why ->
        [blocked] blocked the bot or unfollowed
        [opted_out] asked for no messages
       *[window] has not written for too long
    }
unreach-hint = Please visit them in person: post offices, banks and one-stop service desks can help them install the app on the spot. Print this list, or use the Excel/CSV file.
export-col-reach-free = Not confirmed: reachable free
export-col-reach-billed = Not confirmed: reachable at a cost
export-col-reach-none = Not confirmed: unreachable
