//! The HTML shell and the router of pages.

use crate::components::layout::{JustStarted, Layout};
use crate::pages::{
    agent_health::AgentHealthPage,
    agents::AgentsPage,
    alerts::{AlertPage, AlertsListPage},
    audit::AuditPage,
    campaigns::{CampaignPage, CampaignsPage},
    invite::InvitePage,
    login::LoginPage,
    members::MembersPage,
    new_run::NewRunPage,
    not_found::NotFound,
    run_compare::RunComparePage,
    run_detail::RunPage,
    run_list::RunListPage,
    saved_view::SavedViewPage,
    settings::SettingsPage,
    storage::StoragePage,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The document around the app, rendered once per full page load.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The stylesheet shares the bundle's (content-hashed) name; `id="leptos"` lets
    // `cargo leptos watch` swap it in place when the CSS changes.
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <link id="leptos" rel="stylesheet" href=stylesheet />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(JustStarted(RwSignal::new(None)));
    view! {
        <Title formatter=|title: String| format!("{title} · Runboard") />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/invite/:secret") view=InvitePage />
                <ParentRoute path=path!("") view=Layout>
                    <Route path=path!("") view=RunListPage />
                    <Route path=path!("/runs/new") view=NewRunPage />
                    <Route path=path!("/settings") view=SettingsPage />
                    <Route path=path!("/settings/members") view=MembersPage />
                    <Route path=path!("/settings/audit") view=AuditPage />
                    <Route path=path!("/settings/storage") view=StoragePage />
                    <Route path=path!("/agents") view=AgentsPage />
                    <Route path=path!("/agents/:slug") view=AgentHealthPage ssr=SsrMode::Async />
                    <Route path=path!("/alerts") view=AlertsListPage />
                    <Route path=path!("/alerts/:id") view=AlertPage ssr=SsrMode::Async />
                    <Route path=path!("/views/:id") view=SavedViewPage ssr=SsrMode::Async />
                    <Route path=path!("/campaigns") view=CampaignsPage />
                    <Route path=path!("/campaigns/:id") view=CampaignPage ssr=SsrMode::Async />
                    // Async: the page waits for the run, so a missing one answers 404.
                    <Route path=path!("/runs/:id") view=RunPage ssr=SsrMode::Async />
                    <Route path=path!("/runs/:id/compare") view=RunComparePage ssr=SsrMode::Async />
                    <Route path=path!("/runs/:id/compare/:other") view=RunComparePage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
