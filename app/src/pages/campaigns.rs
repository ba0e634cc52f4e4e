//! Campaigns (`/campaigns`, `/campaigns/:id`): status, bundle URL, latest run, and
//! the campaign's runs.

use crate::components::layout::IfRole;
use crate::components::stored_link::StoredLink;
use crate::components::time::Ago;
use crate::functions::directory::{campaign_detail, campaign_list, NewCampaign};
use crate::pages::not_found::NotFound;
use crate::pages::run_list::RunsExplorer;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use model::{AppError, Campaign, Role};

#[component]
fn CampaignStatusTag(campaign: Campaign) -> impl IntoView {
    let status = campaign.status.as_str();
    view! { <span class=format!("badge campaign-{status}")><span class="dot"></span>{status}</span> }
}

#[component]
pub fn CampaignsPage() -> impl IntoView {
    let create = ServerAction::<NewCampaign>::new();
    let campaigns = Resource::new(move || create.version().get(), |_| campaign_list());
    let error = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| error.to_string())
    };
    view! {
        <Title text="Campaigns" />
        <main class="page">
            <header class="page-header">
                <h1>"Campaigns"</h1>
                <IfRole needed=Role::Member>
                    <ActionForm action=create attr:class="inline-form">
                        <input type="text" name="name" required placeholder="New campaign name" aria-label="New campaign name" />
                        <button type="submit" class="button primary">"Create"</button>
                    </ActionForm>
                </IfRole>
            </header>
            {move || error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <Transition fallback=|| view! { <p class="muted">"Loading campaigns…"</p> }>
                {move || Suspend::new(async move {
                    match campaigns.await {
                        Ok(list) if list.is_empty() => view! {
                            <div class="empty"><h2>"No campaigns yet"</h2><p>"Create one above, then start runs with its id."</p></div>
                        }
                        .into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap">
                                <table>
                                    <thead><tr><th>"Campaign"</th><th>"Status"</th><th>"Runs"</th><th>"Bundle"</th><th>"Latest run"</th><th>"Created"</th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|campaign| view! {
                                            <tr data-campaign=campaign.id.to_string()>
                                                <td><a href=format!("/campaigns/{}", campaign.id)>{campaign.name.clone()}</a></td>
                                                <td><CampaignStatusTag campaign=campaign.clone() /></td>
                                                <td class="campaign-runs-cell"><CampaignProgress runs=campaign.runs /></td>
                                                <td>{campaign.bundle_url.clone().map(|url| view! { <StoredLink url /> })}</td>
                                                <td>{campaign.latest_run_id.map(|id| view! { <a href=format!("/runs/{id}")>{model::short_id(id)}</a> })}</td>
                                                <td><Ago at=campaign.created_at /></td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                        .into_any(),
                        Err(error) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
pub fn CampaignPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let campaign = Resource::new(move || id.get(), campaign_detail);
    view! {
        <Suspense fallback=|| view! { <main class="page"><p class="muted">"Loading the campaign…"</p></main> }>
            {move || Suspend::new(async move {
                match campaign.await {
                    Ok(campaign) => {
                        view! {
                            <Title text=campaign.name.clone() />
                            <main class="page">
                                <nav class="crumbs"><a href="/campaigns">"Campaigns"</a></nav>
                                <header class="page-header">
                                    <h1>{campaign.name.clone()}</h1>
                                    <CampaignStatusTag campaign=campaign.clone() />
                                </header>
                                <CampaignProgress runs=campaign.runs />
                                <dl class="facts">
                                    <dt>"Id"</dt><dd><code>{campaign.id.to_string()}</code></dd>
                                    <dt>"Bundle"</dt>
                                    <dd>{campaign.bundle_url.clone().map(|url| view! { <StoredLink url /> }.into_any()).unwrap_or_else(|| "—".into_any())}</dd>
                                    <dt>"Latest run"</dt>
                                    <dd>{campaign.latest_run_id.map(|id| view! { <a href=format!("/runs/{id}")>{id.to_string()}</a> }.into_any()).unwrap_or_else(|| "—".into_any())}</dd>
                                    <dt>"Updated"</dt><dd><Ago at=campaign.updated_at /></dd>
                                </dl>
                                <h2>"Runs"</h2>
                                <RunsExplorer
                                    base=format!("/campaigns/{}", campaign.id)
                                    fixed=vec![("campaign".to_string(), campaign.id.to_string())]
                                />
                            </main>
                        }
                        .into_any()
                    }
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <main class="page"><p class="form-error">{error.to_string()}</p></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A campaign's runs as one bar in their outcomes' colours, and in words:
/// "21 of 30 completed · 9 failed · 70 % success".
#[component]
fn CampaignProgress(runs: model::CampaignRuns) -> impl IntoView {
    let share = |count: i64| count as f64 / runs.total.max(1) as f64 * 100.0;
    let parts = [
        ("completed", runs.completed),
        ("failed", runs.failed),
        ("running", runs.active),
        ("cancelled", runs.cancelled),
    ];
    view! {
        <div class="campaign-progress" data-total=runs.total.to_string()>
            <div class="campaign-bar" aria-hidden="true">
                {parts
                    .into_iter()
                    .filter(|(_, count)| *count > 0)
                    .map(|(status, count)| view! {
                        <span class=format!("status-{status}") style=format!("width: {:.2}%", share(count))></span>
                    })
                    .collect_view()}
            </div>
            <span class="campaign-summary">{runs.summary()}</span>
        </div>
    }
}
