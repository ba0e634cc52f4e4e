//! The storage page (`/settings/storage`, owners): how big the database is,
//! its rows per table and the account's artifact bytes per agent (as last
//! counted: counting reads whole tables, so the server does it now and then),
//! what the retention policy removes next, and what the last prunes removed.

use crate::components::time::Ago;
use crate::functions::retention::load_storage;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use model::{
    format_bytes, format_count, format_timestamp, PruneCounts, PruneReport, RetentionPolicy,
    StorageReport,
};

#[component]
pub fn StoragePage() -> impl IntoView {
    let report = Resource::new(|| (), |_| load_storage());
    view! {
        <Title text="Storage" />
        <main class="page storage-page">
            <nav class="crumbs" aria-label="Breadcrumb"><A href="/settings">"Settings"</A>" / "<span>"Storage"</span></nav>
            <header class="page-header"><h1>"Storage"</h1></header>
            <Transition fallback=|| view! { <p class="muted loading">"Loading the storage figures…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(report) => view! { <StorageView report /> }.into_any(),
                        Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn StorageView(report: StorageReport) -> impl IntoView {
    let counted = report
        .counted_at
        .map(|at| format!("Counted {}.", format_timestamp(at)))
        .unwrap_or_else(|| "Not counted yet: the server counts at its next prune.".to_string());
    let next = report.next.clone();
    view! {
        <div class="storage-grid">
            <section class="card stack" aria-labelledby="database-heading">
                <h2 id="database-heading">"Database"</h2>
                <dl class="facts">
                    <dt>"File"</dt>
                    <dd data-testid="database-bytes">{format_bytes(report.database_bytes)}</dd>
                    <dt>"Free pages"</dt>
                    <dd>{format_bytes(report.free_bytes)}</dd>
                    <dt>"Write-ahead log"</dt>
                    <dd>{format_bytes(report.wal_bytes)}</dd>
                    <dt>"Files to delete"</dt>
                    <dd>{format_count(report.files_pending)}</dd>
                </dl>
                <p class="muted">"The whole installation, every account's data included."</p>
            </section>
            <section class="card stack" aria-labelledby="next-heading">
                <h2 id="next-heading">"Next prune"</h2>
                <PolicySummary policy=report.policy.clone() />
                {if report.policy.is_default() {
                    view! { <p class="muted">"Nothing: the policy keeps everything."</p> }.into_any()
                } else {
                    let lead = if next.capped {
                        "If pruning ran now it would remove at least:"
                    } else {
                        "If pruning ran now it would remove:"
                    };
                    view! {
                        <p class="muted">{lead}</p>
                        <Counts counts=next.counts />
                    }.into_any()
                }}
            </section>
        </div>
        <section class="card stack" aria-labelledby="prunes-heading">
            <h2 id="prunes-heading">"Last prunes"</h2>
            <LastPrunes prunes=report.last_prunes.clone() />
        </section>
        <div class="storage-grid">
            <section class="card stack" aria-labelledby="tables-heading">
                <h2 id="tables-heading">"Rows per table"</h2>
                <p class="muted">{counted.clone()}</p>
                <div class="table-scroll">
                    <table class="storage-tables">
                        <thead><tr><th>"Table"</th><th class="num">"Rows"</th></tr></thead>
                        <tbody>
                            {report.tables.iter().map(|row| view! {
                                <tr data-table=row.table.clone()><td><code>{row.table.clone()}</code></td><td class="num">{format_count(row.rows)}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </section>
            <section class="card stack" aria-labelledby="artifacts-heading">
                <h2 id="artifacts-heading">"Artifact files per agent"</h2>
                <p class="muted">{counted}</p>
                {if report.artifacts.is_empty() {
                    view! { <p class="muted">"No stored artifact files."</p> }.into_any()
                } else {
                    view! {
                        <div class="table-scroll">
                            <table class="storage-artifacts">
                                <thead><tr><th>"Agent"</th><th class="num">"Files"</th><th class="num">"Size"</th></tr></thead>
                                <tbody>
                                    {report.artifacts.iter().map(|each| view! {
                                        <tr data-agent=each.agent.clone()>
                                            <td class="agent">{each.agent.clone()}</td>
                                            <td class="num">{format_count(each.files)}</td>
                                            <td class="num">{format_bytes(each.bytes)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any()
                }}
            </section>
        </div>
    }
}

fn days(days: Option<i64>) -> String {
    match days {
        Some(1) => "1 day".to_string(),
        Some(days) => format!("{} days", format_count(days)),
        None => "forever".to_string(),
    }
}

#[component]
fn PolicySummary(policy: RetentionPolicy) -> impl IntoView {
    let overrides = policy.agents.len();
    view! {
        <p>
            {format!(
                "Runs {}, failed runs {}, events {}, artifacts {}",
                days(policy.keep_runs_days),
                days(policy.keep_failed_runs_days),
                days(policy.keep_events_days),
                days(policy.keep_artifacts_days),
            )}
            {(overrides > 0).then(|| format!("; overrides for {overrides} agent{}", if overrides == 1 { "" } else { "s" }))}
            ". "
            <A href="/settings#retention">"Change"</A>
        </p>
    }
}

#[component]
fn Counts(counts: PruneCounts) -> impl IntoView {
    view! {
        <dl class="facts prune-counts" data-testid="next-prune">
            <dt>"Runs deleted"</dt><dd data-kind="runs">{format_count(counts.runs)}</dd>
            <dt>"Event logs emptied"</dt><dd data-kind="eventLogs">{format_count(counts.event_logs)}</dd>
            <dt>"Artifact lists emptied"</dt><dd data-kind="artifactSets">{format_count(counts.artifact_sets)}</dd>
            <dt>"Events"</dt><dd data-kind="events">{format_count(counts.events)}</dd>
            <dt>"Artifacts"</dt><dd data-kind="artifacts">{format!("{} ({})", format_count(counts.artifacts), format_bytes(counts.artifact_bytes))}</dd>
        </dl>
    }
}

#[component]
fn LastPrunes(prunes: Vec<PruneReport>) -> impl IntoView {
    if prunes.is_empty() {
        return view! { <p class="muted">"No prune yet: the server prunes a few minutes after a policy is set, or run "<code>"runboard prune"</code>"."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="prunes">
                <thead>
                    <tr>
                        <th>"Finished"</th><th>"By"</th><th class="num">"Runs"</th><th class="num">"Events"</th>
                        <th class="num">"Artifacts"</th><th class="num">"Logs / lists emptied"</th>
                        <th class="num">"Transactions"</th><th class="num">"Longest hold"</th>
                    </tr>
                </thead>
                <tbody>
                    {prunes.into_iter().map(|prune| view! {
                        <tr>
                            <td><Ago at=prune.finished_at /></td>
                            <td>{prune.origin.clone()}</td>
                            <td class="num">{format_count(prune.removed.runs)}</td>
                            <td class="num">{format_count(prune.removed.events)}</td>
                            <td class="num">{format!("{} ({})", format_count(prune.removed.artifacts), format_bytes(prune.removed.artifact_bytes))}</td>
                            <td class="num">{format!("{} / {}", format_count(prune.removed.event_logs), format_count(prune.removed.artifact_sets))}</td>
                            <td class="num">{format_count(prune.transactions)}</td>
                            <td class="num">{format!("{} ms", prune.longest_hold_ms)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
