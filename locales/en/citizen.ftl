welcome = Hello! I am the { $app } installation assistant. { $app } is the contact-tracing app that helps prevent COVID-19.
    I will walk you through installing { $app } step by step. It takes about 2 minutes.
welcome-back = Welcome back! Let's carry on with { $app }.
ask-unit = Which unit do you live or work in (commune, ward, agency, business…)? Type part of its name, e.g. "Tan An", or pick it from the list.
btn-browse-units = 📋 Pick from the list
btn-search-unit = 🔎 Search for a unit
browse-top = Choose your unit:
browse-under = Units in { $unit }:
btn-choose-this = ✅ Choose { $unit }
btn-up = ⬆️ Up
btn-more = Next page ▶️
btn-back-page = ◀️ Previous page
search-results = { $count ->
    [one] Found 1 unit for "{ $query }":
   *[other] Found { $count } units for "{ $query }". Choose yours:
}
search-none = No unit found for "{ $query }". Try another name (with or without diacritics) or pick from the list.
search-too-short = Please type at least 2 characters of the unit's name.
unit-label-with-parent = { $unit } ({ $parent })
unit-joined = You are registered in: { $unit }.
unit-unknown = That unit is no longer on the list. Please search for your unit again.
link-unknown = The link you used is not valid or is out of date. Please find your unit by typing its name.
ask-phone = Which kind of phone do you use?
btn-android = 🤖 Android
btn-iphone = 🍏 iPhone
guide-android = Installing { $app } on Android:
    1. Tap "Open Google Play" below (or open { $link }).
    2. Tap "Install" and wait for the download.
    3. Open { $app }, read and accept the terms.
    4. Allow { $app } to use Bluetooth and turn Bluetooth on.
    5. Allow location access (Android needs it to scan for Bluetooth).
    6. Allow { $app } to send notifications.
    When you are done, tap "I have installed { $app }".
guide-iphone = Installing { $app } on iPhone:
    1. Tap "Open App Store" below (or open { $link }).
    2. Tap "Get" and confirm the download.
    3. Open { $app }, read and accept the terms.
    4. Allow { $app } to use Bluetooth and turn Bluetooth on.
    5. Allow { $app } to send notifications.
    When you are done, tap "I have installed { $app }".
guide-warning = ⚠️ Only install { $app } from the official link above. Beware of fake apps with a similar name or icon. Official information: { $website }
btn-open-store-android = ⬇️ Open Google Play
btn-open-store-iphone = ⬇️ Open App Store
btn-installed = ✅ I have installed { $app }
btn-other-phone = 🔁 Other phone
btn-guide = 📲 Installation guide
btn-status = 📊 My status
btn-choose-unit = 🏠 Choose unit
btn-language = 🌐 Language / Ngôn ngữ
thanks = 🎉 Thank you for installing { $app }! You are helping to protect yourself, your family and your community.
already-confirmed = You already confirmed installing { $app }; it counts once. Thank you!
share = Invite your family and friends to install it with your own link: { $link }
btn-share = 📣 Share with friends
share-text = Let's install { $app } to help stop COVID-19!
confirmed-needs-unit = To be counted for your unit, please choose it.
status-header = 📊 Your status
status-unit = Unit: { $unit }
status-no-unit = Unit: not chosen yet
status-confirmed = ✅ { $app } installed (confirmed on { $date })
status-not-confirmed = ⏳ { $app } installation not confirmed yet
status-referrals = { $count ->
    [0] Nobody has joined through your link yet.
    [one] 1 person joined through your link.
   *[other] { $count } people joined through your link.
}
status-reminders-off = 🔕 Reminders are off (send /start to turn them back on).
choose-language = Choose your language / Chọn ngôn ngữ:
language-name-vi = 🇻🇳 Tiếng Việt
language-name-en = 🇬🇧 English
language-set = Language set to English.
help-citizen = Commands:
    /start – start
    /guide – how to install { $app }
    /installed – confirm you installed it
    /status – your status
    /language – change language
    /help – help
    /stop – stop reminders
help-leader = Commands for unit leaders:
    /broadcast – message your members
    /broadcasts – recent broadcasts
    /coverage [CODE] – figures of your unit and the units below it
    /chart [CODE] – chart
    /members [CODE] – members who have not confirmed; mark them verified
    /report N [note] – report installs done in person for your unit; /report CODE N [note] for a unit below it or when you lead several; /report -N note to correct
    /export [CODE] – Excel/CSV export
    /invite [CODE] – invitation link and poster
    /linkgroup [CODE] – link a group (send it in the group); /unlinkgroup – unlink it
help-admin = Administrator commands:
    /invite_leader CODE – create a leader invitation for a unit
short-help = I am the { $app } installation assistant. Pick an option below, or send /help for the commands.
too-long = That message is too long (at most { $max } characters). Please send a shorter one.
stale-button = That button is out of date or not valid. Please use the latest message.
stopped = 🔕 Reminders are off. You will not get any more reminders. Send /start at any time to turn them back on.
resumed = 🔔 Reminders are back on.
not-allowed = You are not allowed to use this command.
group-hello = Hello everyone! I help people install { $app }. A unit leader can link this group to their unit with /linkgroup.
invite-usage = Usage: /invite_leader UNIT_CODE (for example /invite_leader 794)
invite-created = Leader invitation for { $unit } (works once, expires in { $days } days):
    { $link }
invite-accepted = You are now a leader of { $unit }. Send /help to see your commands.
invite-unknown = This invitation does not exist.
invite-expired = This invitation has expired. Please ask for a new one.
invite-used = This invitation has already been used.
error-generic = Sorry, something went wrong. Please try again in a few minutes.
cmd-start = Start
cmd-guide = Installation guide
cmd-installed = I have installed it
cmd-status = My status
cmd-language = Change language
cmd-help = Help
cmd-stop = Stop reminders
small-talk-hello = Hello! 👋
small-talk-thanks = You're welcome! 😊
small-talk-ok = 👍
unit-dont-know = No problem: you can install the app first and choose your unit later. Tap "Skip for now", or pick your unit from the list.
btn-skip-unit = ⏭ Skip for now
unit-skipped = OK, let's install first. I will ask for your unit again later (you can choose it at any time with /start or in /status).
admin-menu = You are an administrator of the { $app } campaign. What would you like to do?
    /coverage – coverage of the whole tree or a unit
    /export – the coverage table as a spreadsheet
    /invite_leader UNIT_CODE – invite a unit leader
    /broadcast – send a message to a unit and the units below it
    /help – all commands
btn-admin-coverage = 📊 Coverage
btn-admin-export = 📥 Export
btn-admin-broadcast = 📣 Broadcast
btn-admin-invite = 👤 Invite leaders
admin-invite-help = To invite a unit's leader, send /invite_leader with the unit's code, for example /invite_leader 794. You get a one-time link to pass on to the leader. The codes are in /coverage and /export.
bc-pick-unit = Which unit should get the broadcast? It reaches everyone in the unit and in the units below it. Choose one below, or send /broadcast UNIT_CODE.
btn-bc-unit = { $unit } ({ $code })
no-units-hint = ⚠️ No units have been imported, so citizens cannot choose their unit. The operator should run: bluezone-bot units import UNITS.csv (or bluezone-bot units import --sample for a trial).
