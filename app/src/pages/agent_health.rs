//! An agent's health (`/agents/:slug?window=7d`): its runs per bar by status,
//! success rate, duration and queue-wait percentiles, cache-hit and retry rates,
//! the steps that fail most, and token and cost totals when runners report them,
//! over the last 24 hours, 7 or 30 days. Every bar and point links to the run list
//! filtered to its runs. The numbers are `GET /api/agents/{slug}/stats`'s.

use crate::components::svg::num;
use crate::functions::directory::agent_health;
use crate::pages::run_list::with_param;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::{format_count, format_duration_ms, AgentStats, RunStatus, StatsBar, StatsWindow};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
/// Room under the plot for the time labels, and left of it for the y-axis.
const BOTTOM: f64 = 20.0;
const LEFT: f64 = 40.0;

/// The run list of this agent's runs created within a bar (or the whole window).
fn runs_href(
    slug: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    status: Option<&str>,
) -> String {
    let mut q = format!(
        "agent:{} created:>={} created:<{}",
        model::query_value(slug),
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );
    if let Some(status) = status {
        q.push_str(&format!(" status:{status}"));
    }
    with_param("/", "", "q", &q)
}

fn percent(rate: Option<f64>) -> String {
    rate.map(|rate| format!("{:.1} %", rate * 100.0))
        .unwrap_or_else(|| "—".to_string())
}

fn millis(ms: Option<i64>) -> String {
    ms.map(format_duration_ms)
        .unwrap_or_else(|| "—".to_string())
}

/// The end of a bar: the next bar's start, or the window's end.
fn bar_end(stats: &AgentStats, index: usize) -> chrono::DateTime<chrono::Utc> {
    stats
        .buckets
        .get(index + 1)
        .map(|next| next.start)
        .unwrap_or(stats.to)
}

/// A round axis maximum at or above `value` whose half is round too: 1, 2 or 4
/// times a power of ten.
pub fn axis_max(value: f64) -> f64 {
    let value = value.max(1.0);
    let mut step = 1.0;
    loop {
        for factor in [1.0, 2.0, 4.0] {
            if step * factor >= value {
                return step * factor;
            }
        }
        step *= 10.0;
    }
}

fn bar_label(stats: &AgentStats, bar: &StatsBar) -> String {
    match stats.bucket {
        model::StatsBucket::Day => bar.start.format("%b %d").to_string(),
        _ => bar.start.format("%H:%M").to_string(),
    }
}

#[component]
pub fn AgentHealthPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = Memo::new(move |_| params.read().get("slug").unwrap_or_default());
    let window = Memo::new(move |_| query.read().get("window").unwrap_or_default());
    let health = Resource::new(
        move || (slug.get(), window.get()),
        |(slug, window)| agent_health(slug, window),
    );
    view! {
        <Suspense fallback=|| view! { <main class="page"><p class="muted">"Loading the agent…"</p></main> }>
            {move || Suspend::new(async move {
                match health.await {
                    Ok((agent, stats)) => view! {
                        <Title text=format!("{} · health", agent.slug) />
                        <main class="page page-wide agent-health">
                            <nav class="crumbs"><a href="/agents">"Agents"</a></nav>
                            <header class="page-header">
                                <h1><code>{agent.slug.clone()}</code></h1>
                                {agent.name.clone().map(|name| view! { <span class="muted">{name}</span> })}
                                <WindowChoice slug=agent.slug.clone() current=stats.window />
                            </header>
                            <HealthTiles stats=stats.clone() />
                            <section class="health-section">
                                <h2>"Runs by status"</h2>
                                <StatusChart stats=stats.clone() />
                            </section>
                            <section class="health-section">
                                <h2>"Duration of finished runs"</h2>
                                <DurationChart stats=stats.clone() />
                            </section>
                            <section class="health-section">
                                <h2>"Steps that fail most"</h2>
                                <FailingSteps stats />
                            </section>
                        </main>
                    }
                    .into_any(),
                    Err(error) => view! {
                        <main class="page">
                            <nav class="crumbs"><a href="/agents">"Agents"</a></nav>
                            <div class="empty error" role="alert">
                                <h2>"This agent could not be shown"</h2>
                                <p>{error.to_string()}</p>
                            </div>
                        </main>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn WindowChoice(slug: String, current: StatsWindow) -> impl IntoView {
    view! {
        <nav class="window-choice" aria-label="Time window">
            {StatsWindow::ALL
                .into_iter()
                .map(|window| {
                    let active = window == current;
                    view! {
                        <a
                            href=format!("/agents/{slug}?window={}", window.as_str())
                            class=if active { "chip active" } else { "chip" }
                            aria-current=active.then_some("true")
                        >
                            {match window {
                                StatsWindow::Day => "24 h",
                                StatsWindow::Week => "7 days",
                                StatsWindow::Month => "30 days",
                            }}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}

#[component]
fn HealthTiles(stats: AgentStats) -> impl IntoView {
    let all = runs_href(&stats.agent, stats.from, stats.to, None);
    let failed = runs_href(&stats.agent, stats.from, stats.to, Some("failed"));
    let failed_count = stats.by_status.get("failed").copied().unwrap_or(0);
    let usage = (stats.tokens.is_some() || stats.cost_usd.is_some()).then(|| {
        view! {
            <div class="tile">
                <dt>"Tokens · cost"</dt>
                <dd>
                    {stats.tokens.map(format_count).unwrap_or_else(|| "—".into())}
                    <span class="muted">{stats.cost_usd.map(|cost| format!(" · ${cost:.2}")).unwrap_or_default()}</span>
                </dd>
            </div>
        }
    });
    view! {
        <dl class="health-tiles">
            <div class="tile"><dt>"Runs"</dt><dd><a href=all>{format_count(stats.total)}</a></dd></div>
            <div class="tile">
                <dt>"Success rate"</dt>
                <dd>{percent(stats.success_rate)}
                    {(failed_count > 0).then(|| view! { <a class="muted tile-note" href=failed>{format!("{} failed", format_count(failed_count))}</a> })}
                </dd>
            </div>
            <div class="tile"><dt>"Duration p50 · p95 · p99"</dt>
                <dd>{format!("{} · {} · {}", millis(stats.duration_ms.p50), millis(stats.duration_ms.p95), millis(stats.duration_ms.p99))}</dd></div>
            <div class="tile"><dt>"Queue wait p50 · p95"</dt>
                <dd>{format!("{} · {}", millis(stats.queue_wait_ms.p50), millis(stats.queue_wait_ms.p95))}</dd></div>
            <div class="tile"><dt>"Cache hits"</dt><dd>{percent(stats.cache_hit_rate)}</dd></div>
            <div class="tile"><dt>"Retries"</dt><dd>{percent(stats.retry_rate)}</dd></div>
            {usage}
        </dl>
    }
}

/// Runs per bar, stacked by status, with a y-axis, time labels and a legend;
/// each segment links to its runs.
#[component]
fn StatusChart(stats: AgentStats) -> impl IntoView {
    let totals: Vec<i64> = stats
        .buckets
        .iter()
        .map(|bar| bar.by_status.values().sum())
        .collect();
    let top = axis_max(totals.iter().copied().max().unwrap_or(0) as f64);
    let plot_height = HEIGHT - BOTTOM;
    let slot = (WIDTH - LEFT) / stats.buckets.len().max(1) as f64;
    let label_every = (stats.buckets.len() / 8).max(1);
    let mut shapes = Vec::new();
    for (index, bar) in stats.buckets.iter().enumerate() {
        let x = LEFT + index as f64 * slot;
        let end = bar_end(&stats, index);
        let mut y = plot_height;
        for status in RunStatus::ALL.iter().copied() {
            let Some(count) = bar
                .by_status
                .get(status.as_str())
                .copied()
                .filter(|count| *count > 0)
            else {
                continue;
            };
            let height = count as f64 / top * plot_height;
            y -= height;
            let href = runs_href(&stats.agent, bar.start, end, Some(status.as_str()));
            // In a `g`, so that the macro makes an SVG link (not an HTML one)
            // when the chart is drawn in the browser.
            shapes.push(view! {
                <g><a href=href>
                    <rect class=format!("chart-bar status-{}", status.as_str())
                        x=num(x + slot * 0.12) y=num(y)
                        width=num(slot * 0.76) height=num(height)>
                        <title>{format!("{}: {count} {}", bar_label(&stats, bar), status.as_str())}</title>
                    </rect>
                </a></g>
            }.into_any());
        }
        if index % label_every == 0 {
            shapes.push(view! {
                <text class="chart-label" x=num(x + slot / 2.0) y=num(HEIGHT - 5.0)>{bar_label(&stats, bar)}</text>
            }.into_any());
        }
    }
    let legend = RunStatus::ALL
        .iter()
        .copied()
        .filter(|status| stats.by_status.get(status.as_str()).is_some_and(|count| *count > 0))
        .map(|status| view! {
            <li class=format!("status-{}", status.as_str())><span class="swatch"></span>{status.as_str()}
                <span class="muted">{format!(" {}", stats.by_status.get(status.as_str()).copied().unwrap_or(0))}</span></li>
        })
        .collect_view();
    view! {
        <figure class="health-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="group"
                aria-label=format!("Runs of {} per {} by status: {} in all", stats.agent, stats.bucket.as_str(), stats.total)>
                <Axis top unit="" />
                {shapes}
            </svg>
            <ul class="chart-legend">{legend}</ul>
        </figure>
    }
}

/// The y-axis: 0, half and the top, with grid lines.
#[component]
fn Axis(top: f64, unit: &'static str) -> impl IntoView {
    let plot_height = HEIGHT - BOTTOM;
    [0.0, 0.5, 1.0]
        .into_iter()
        .map(|share| {
            let y = plot_height - share * plot_height;
            let value = top * share;
            let text = if unit == "ms" {
                format_duration_ms(value as i64)
            } else {
                format_count(value as i64)
            };
            view! {
                <line class="chart-grid" x1=format!("{LEFT}") x2=format!("{WIDTH}") y1=num(y) y2=num(y) />
                <text class="chart-axis" x=num(LEFT - 4.0) y=num(y + 3.0)>{text}</text>
            }
        })
        .collect_view()
}

/// p50 and p95 per bar as two lines; each point links to the bar's completed runs.
#[component]
fn DurationChart(stats: AgentStats) -> impl IntoView {
    let highest = stats
        .buckets
        .iter()
        .filter_map(|bar| bar.duration_ms.p95)
        .max()
        .unwrap_or(0);
    if highest == 0 {
        return view! { <p class="muted">"No finished runs in this window."</p> }.into_any();
    }
    let top = axis_max(highest as f64);
    let plot_height = HEIGHT - BOTTOM;
    let slot = (WIDTH - LEFT) / stats.buckets.len().max(1) as f64;
    let point = |index: usize, ms: i64| {
        (
            LEFT + index as f64 * slot + slot / 2.0,
            plot_height - ms as f64 / top * plot_height,
        )
    };
    let line = |pick: fn(&StatsBar) -> Option<i64>| {
        stats
            .buckets
            .iter()
            .enumerate()
            .filter_map(|(index, bar)| pick(bar).map(|ms| point(index, ms)))
            .map(|(x, y)| format!("{},{}", num(x), num(y)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let p50 = line(|bar| bar.duration_ms.p50);
    let p95 = line(|bar| bar.duration_ms.p95);
    let dots = stats
        .buckets
        .iter()
        .enumerate()
        .filter_map(|(index, bar)| {
            let p95 = bar.duration_ms.p95?;
            let (x, y) = point(index, p95);
            let href = runs_href(&stats.agent, bar.start, bar_end(&stats, index), Some("completed,failed,cancelled"));
            Some(view! {
                <g><a href=href>
                    <circle class="chart-dot p95" cx=num(x) cy=num(y) r="3.5">
                        <title>{format!("{}: p50 {}, p95 {}", bar_label(&stats, bar), millis(bar.duration_ms.p50), millis(Some(p95)))}</title>
                    </circle>
                </a></g>
            })
        })
        .collect_view();
    view! {
        <figure class="health-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="group"
                aria-label=format!("Duration p50 and p95 of {} per {}", stats.agent, stats.bucket.as_str())>
                <Axis top unit="ms" />
                <polyline class="chart-line p50" points=p50 />
                <polyline class="chart-line p95" points=p95 />
                {dots}
            </svg>
            <ul class="chart-legend">
                <li class="line-p50"><span class="swatch"></span>"p50"</li>
                <li class="line-p95"><span class="swatch"></span>"p95"</li>
            </ul>
        </figure>
    }
    .into_any()
}

#[component]
fn FailingSteps(stats: AgentStats) -> impl IntoView {
    if stats.failing_steps.is_empty() {
        return view! { <p class="muted">"No step failed in this window."</p> }.into_any();
    }
    let rows = stats
        .failing_steps
        .into_iter()
        .map(|step| {
            let codes = step
                .codes
                .iter()
                .map(|(code, count)| view! { <span class="tag">{format!("{code} × {count}")}</span> })
                .collect_view();
            view! {
                <tr>
                    <td><code>{step.name.clone()}</code></td>
                    <td class="num">{format_count(step.count)}</td>
                    <td>{codes}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="failing-steps">
                <thead><tr><th scope="col">"Step"</th><th scope="col" class="num">"Failed attempts"</th><th scope="col">"Error codes"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(axis_max(0.0), 1.0);
        assert_eq!(axis_max(3.0), 4.0);
        assert_eq!(axis_max(5.0), 10.0);
        assert_eq!(axis_max(17.0), 20.0);
        assert_eq!(axis_max(4_000.0), 4_000.0);
        assert_eq!(axis_max(4_001.0), 10_000.0);
    }

    #[test]
    fn a_bar_links_to_its_runs_in_the_query_language() {
        let from = "2026-12-01T08:00:00Z".parse().unwrap();
        let to = "2026-12-01T09:00:00Z".parse().unwrap();
        let href = runs_href("crawler", from, to, Some("failed"));
        let q: String = form_urlencoded::parse(href.trim_start_matches("/?").as_bytes())
            .find(|(key, _)| key == "q")
            .map(|(_, value)| value.into_owned())
            .unwrap();
        assert_eq!(
            q,
            "agent:crawler created:>=2026-12-01T08:00:00Z created:<2026-12-01T09:00:00Z status:failed"
        );
        assert!(model::query::Query::parse(&q).is_ok());
    }
}
