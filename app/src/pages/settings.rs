//! Settings (`/settings`): the owners' way to the members and the audit log and
//! their Retention section (with the way to the storage page), API tokens
//! (members and owners: create — shown once —, list, revoke) and changing one's
//! password.

use crate::components::json_view::CopyButton;
use crate::components::layout::IfRole;
use crate::components::time::Ago;
use crate::functions::manage::{list_tokens, ChangePassword, CreateToken, RevokeToken};
use crate::pages::retention::RetentionSection;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use model::{format_timestamp, Role};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let change = ServerAction::<ChangePassword>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    // The new token's secret, shown once; any revoke clears it from the page.
    let shown_secret = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(secret)) = create.value().get() {
            shown_secret.set(Some(secret));
        }
    });
    Effect::new(move |_| {
        if revoke.version().get() > 0 {
            shown_secret.set(None);
        }
    });
    let created = move || shown_secret.get();
    // The token whose revoke waits for a confirmation.
    let confirming = RwSignal::new(None::<String>);
    let create_error = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| error.to_string())
    };
    let change_result = move || {
        change.value().get().map(|result| match result {
            Ok(()) => view! { <p class="form-ok" role="status">"Password changed."</p> }.into_any(),
            Err(error) => {
                view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any()
            }
        })
    };

    view! {
        <Title text="Settings" />
        <main class="page narrow-page">
            <header class="page-header"><h1>"Settings"</h1></header>
            <IfRole needed=Role::Owner>
                <section aria-labelledby="team-heading" class="card stack">
                    <h2 id="team-heading">"Team"</h2>
                    <p class="muted">"Who can use this account, with which role, and what everyone did."</p>
                    <div class="inline-form">
                        <A href="/settings/members" attr:class="button">"Members"</A>
                        <A href="/settings/audit" attr:class="button">"Audit log"</A>
                    </div>
                </section>
                <RetentionSection />
            </IfRole>
            <IfRole needed=Role::Member>
            <section aria-labelledby="tokens-heading" class="card stack">
                <h2 id="tokens-heading">"API tokens"</h2>
                <p class="muted">"Programs and agents use a token as "<code>"Authorization: Bearer …"</code>" on the API."</p>
                <ActionForm action=create attr:class="inline-form">
                    <label>
                        <span>"Name"</span>
                        <input type="text" name="name" required placeholder="e.g. ci" />
                    </label>
                    <label>
                        <span>"Works for"</span>
                        <select name="expires_in_days">
                            <option value="30">"30 days"</option>
                            <option value="90" selected>"90 days"</option>
                            <option value="365">"a year"</option>
                            <option value="">"until revoked"</option>
                        </select>
                    </label>
                    <button type="submit" class="button primary">"Create token"</button>
                </ActionForm>
                {move || create_error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
                {move || created().map(|secret| view! {
                    <div class="secret" role="status">
                        <p>"Copy the token now: it is shown only this once."</p>
                        <code class="token-secret">{secret.clone()}</code>
                        " "
                        <CopyButton text=secret />
                    </div>
                })}
                <Transition fallback=|| view! { <p class="muted">"Loading tokens…"</p> }>
                    {move || Suspend::new(async move {
                        match tokens.await {
                            Ok(list) if list.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                            Ok(list) => view! {
                                <table class="tokens">
                                    <thead><tr><th>"Name"</th><th>"Token"</th><th>"Created"</th><th>"Last used"</th><th>"Status"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|token| {
                                            let id = token.id.to_string();
                                            let expired = token.expires_at.is_some_and(|at| at <= chrono::Utc::now());
                                            let live = token.revoked_at.is_none() && !expired;
                                            let status = match (token.revoked_at, token.expires_at) {
                                                (Some(_), _) => "revoked".to_string(),
                                                (None, Some(_)) if expired => "expired".to_string(),
                                                (None, Some(at)) => format!("active, expires {}", format_timestamp(at)),
                                                (None, None) => "active".to_string(),
                                            };
                                            view! {
                                                <tr data-token-name=token.name.clone()>
                                                    <td>{token.name.clone()}</td>
                                                    <td><code>{format!("{}…", token.prefix)}</code></td>
                                                    <td><Ago at=token.created_at /></td>
                                                    <td>{match token.last_used_at { Some(at) => view! { <Ago at /> }.into_any(), None => "never".into_any() }}</td>
                                                    <td>{status}</td>
                                                    <td>
                                                        {live.then(|| {
                                                            let (id, name) = (id.clone(), token.name.clone());
                                                            move || {
                                                                let id = id.clone();
                                                                if confirming.get().as_deref() == Some(id.as_str()) {
                                                                    view! {
                                                                        <div class="confirm" role="alertdialog" aria-label="Confirm">
                                                                            <span>{format!("Revoke \u{201c}{name}\u{201d}? Programs using it get 401 from now on.")}</span>
                                                                            <ActionForm action=revoke>
                                                                                <input type="hidden" name="id" value=id />
                                                                                <button type="submit" class="button danger small">"Yes, revoke it"</button>
                                                                            </ActionForm>
                                                                            <button type="button" class="button subtle small" on:click=move |_| confirming.set(None)>"Keep it"</button>
                                                                        </div>
                                                                    }
                                                                    .into_any()
                                                                } else {
                                                                    view! {
                                                                        <button type="button" class="button danger small" on:click=move |_| confirming.set(Some(id.clone()))>"Revoke"</button>
                                                                    }
                                                                    .into_any()
                                                                }
                                                            }
                                                        })}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }
                            .into_any(),
                            Err(error) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
            </IfRole>
            <section aria-labelledby="password-heading" class="card stack">
                <h2 id="password-heading">"Password"</h2>
                <ActionForm action=change attr:class="stack">
                    <label><span>"Current password"</span><input type="password" name="current" autocomplete="current-password" required /></label>
                    // minlength: store::auth::MIN_PASSWORD_LEN (the server checks it, and the common list).
                    <label><span>"New password"</span><input type="password" name="new_password" autocomplete="new-password" minlength="10" required /></label>
                    <label><span>"New password again"</span><input type="password" name="repeat" autocomplete="new-password" minlength="10" required /></label>
                    <p class="muted">"At least 10 characters, not a common password. Your other sessions and API sign-ins end."</p>
                    <button type="submit" class="button primary">"Change password"</button>
                </ActionForm>
                {change_result}
            </section>
        </main>
    }
}
