//! Runs, in three parts that depend one way: [`read`] (one stored run), [`write`]
//! (creation, retry, deletion) with [`status`] (the one place a run's status
//! changes) and [`pin`], and [`list`] (the filtered, counted and charted runs list, built on
//! [`super::filter`]) with [`walk`] (every matching run in keyset batches, for
//! exports and bulk jobs). Everything is re-exported here: callers name `runs::…`.

mod list;
mod pin;
mod read;
mod status;
mod tags;
mod walk;
mod write;

pub use list::{
    chart, chart_query, count_query, list_query, list_runs, orders, per_status, status_counts,
    status_counts_query, COUNT_CAP, TEXT_COUNT_CAP,
};
pub use pin::set_pinned;
pub use read::{
    find_run, find_run_any_account, find_run_by_pk, get_run, get_run_any_account, get_run_by_pk,
    latest_of_agent, latest_of_agent_query, previous_completed, previous_completed_query,
    StoredRun,
};
pub use status::{
    apply_status, cancel_run, cancel_stored, claim_next, patch_run, stamp_seen, update_status,
    RunPatch, StatusUpdate,
};
pub use tags::{changed_tags, set_tags};
pub use walk::{count_below, items_below, keys_below, Condition, ItemBatch, Position};
pub use write::{
    check_input_size, create_run, delete_run, delete_stored, ensure_agent, flatten_input,
    insert_retry, insert_run, retry_run, retry_stored, retryable, validate_context,
    validate_http_url, validate_slug, CreateRun, NewRun, MAX_INPUT_DEPTH, MAX_INPUT_FIELDS,
    MAX_SLUG_LEN,
};
