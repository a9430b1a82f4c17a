//! Message keys of broadcasts: the leader's commands, the progress and the summary; and of the
//! reminders and daily digests the scheduler queues.

crate::define_keys! {
    BC_USAGE = "bc-usage" [units];
    BC_ASK_TEXT = "bc-ask-text" [unit];
    BC_ASK_AGAIN = "bc-ask-again" [];
    BC_PREVIEW = "bc-preview" [unit, text, everyone, unconfirmed, groups];
    BC_PREVIEW_PHOTO = "bc-preview-photo" [unit, everyone, unconfirmed, groups];
    BC_CAPTION = "bc-caption" [text];
    BC_PHOTO_ELSEWHERE = "bc-photo-elsewhere" [count];
    BTN_BC_EVERYONE = "btn-bc-everyone" [count];
    BTN_BC_UNCONFIRMED = "btn-bc-unconfirmed" [count];
    BTN_BC_CONFIRM = "btn-bc-confirm" [];
    BTN_BC_CANCEL = "btn-bc-cancel" [];
    BC_CONFIRM_ASK = "bc-confirm-ask" [count];
    BC_EMPTY = "bc-empty" [];
    BC_QUEUED = "bc-queued" [id, count];
    BC_QUEUED_SEPARATE = "bc-queued-separate" [id, count];
    BC_ALREADY = "bc-already" [];
    BC_DISCARDED = "bc-discarded" [];
    BC_HEAD = "bc-head" [id, unit, text];
    BC_HEAD_PHOTO = "bc-head-photo" [id, unit, text];
    BC_PROGRESS = "bc-progress" [id, sent, total, percent, classes, eta];
    BC_PROGRESS_STOPPING = "bc-progress-stopping" [id, sent, total, left];
    BC_SUMMARY = "bc-summary" [id, sent, total];
    BC_SUMMARY_STOPPED = "bc-summary-stopped" [id, sent, total];
    BC_N_SKIPPED = "bc-n-skipped" [count];
    BC_N_UNREACHABLE = "bc-n-unreachable" [count];
    BC_N_FAILED = "bc-n-failed" [count];
    BC_N_CANCELLED = "bc-n-cancelled" [count];
    BC_LIST_HEADER = "bc-list-header" [];
    BC_LIST_ITEM = "bc-list-item" [id, unit, status, sent, total, classes, date];
    BC_LIST_NONE = "bc-list-none" [];
    BTN_BC_STOP = "btn-bc-stop" [id];
    BC_STOP_ASK = "bc-stop-ask" [id, left];
    BTN_BC_STOP_NOW = "btn-bc-stop-now" [];
    BTN_BC_KEEP = "btn-bc-keep" [];
    BC_KEPT = "bc-kept" [id];
    BC_STOPPED = "bc-stopped" [id, sent, left];
    BC_NOT_RUNNING = "bc-not-running" [];
    BC_REACH_HEAD = "bc-reach-head" [];
    BC_REACH_LINE = "bc-reach-line" [parts];
    BC_REACH_PLATFORM = "bc-reach-platform" [platform, free];
    BC_REACH_BILLED = "bc-reach-billed" [count, price, total, left, affordable];
    BC_REACH_UNREACHABLE = "bc-reach-unreachable" [count, closed, blocked, opted];
    BC_REACH_TIME = "bc-reach-time" [time, rate];
    BC_REACH_PAID = "bc-reach-paid" [time, stars];
    BTN_BC_SEND_BILLED = "btn-bc-send-billed" [count, cost];
    BTN_BC_SEND_PAID = "btn-bc-send-paid" [stars];
    BC_N_BILLED = "bc-n-billed" [count, cost];
    BC_N_EXCLUDED = "bc-n-excluded" [count];
    REMINDER = "reminder" [app];
    DIGEST = "digest" [unit, new, confirmed, members, coverage, target, rank, siblings];
    DIGEST_NO_POPULATION = "digest-no-population" [];
}
