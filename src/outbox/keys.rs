//! Message keys of the delivery engine: broadcasts, progress, reminders and digests.

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
    BC_QUEUED = "bc-queued" [count];
    BC_ALREADY = "bc-already" [];
    BC_DISCARDED = "bc-discarded" [];
    BC_PROGRESS = "bc-progress" [id, sent, total, failed, percent, eta];
    BC_SUMMARY = "bc-summary" [id, sent, total, failed, unreachable, cancelled];
    BC_SUMMARY_STOPPED = "bc-summary-stopped" [id, sent, total, failed, unreachable, cancelled];
    BC_FAILURE_REASON = "bc-failure-reason" [reason, count];
    BC_LIST_HEADER = "bc-list-header" [];
    BC_LIST_ITEM = "bc-list-item" [id, unit, status, sent, total, failed, date];
    BC_LIST_NONE = "bc-list-none" [];
    BTN_BC_STOP = "btn-bc-stop" [id];
    BC_STOP_ASK = "bc-stop-ask" [id, left];
    BTN_BC_STOP_NOW = "btn-bc-stop-now" [];
    BTN_BC_KEEP = "btn-bc-keep" [];
    BC_KEPT = "bc-kept" [id];
    BC_STOPPED = "bc-stopped" [id, dropped];
    BC_NOT_RUNNING = "bc-not-running" [];
    REMINDER = "reminder" [app];
    DIGEST = "digest" [unit, new, confirmed, members, coverage, target, rank, siblings];
    DIGEST_NO_POPULATION = "digest-no-population" [];
}
