//! Members (`/settings/members`, owners): who can use the account and with which
//! role. Add someone with a password or with a one-time invitation link (shown
//! once), change a role, remove someone. The account's last owner stays.

use crate::components::json_view::CopyButton;
use crate::components::time::Ago;
use crate::functions::team::{list_members, AddMember, ChangeMemberRole, RemoveMember};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use model::{Member, Role};

const ROLES: [(Role, &str); 3] = [
    (Role::Viewer, "Viewer — reads everything"),
    (
        Role::Member,
        "Member — also starts, cancels and retries runs",
    ),
    (
        Role::Owner,
        "Owner — also deletes, manages agents, people and the audit log",
    ),
];

#[component]
pub fn MembersPage() -> impl IntoView {
    let add = ServerAction::<AddMember>::new();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let members = Resource::new(
        move || {
            (
                add.version().get(),
                change.version().get(),
                remove.version().get(),
            )
        },
        |_| list_members(),
    );
    let added = move || add.value().get().and_then(Result::ok);
    let failure = move || {
        [
            add.value().get().and_then(Result::err),
            change.value().get().and_then(Result::err),
            remove.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|error| error.to_string())
    };

    view! {
        <Title text="Members" />
        <main class="page narrow-page">
            <nav class="crumbs" aria-label="Breadcrumb"><A href="/settings">"Settings"</A>" / "<span>"Members"</span></nav>
            <header class="page-header"><h1>"Members"</h1></header>
            <section aria-labelledby="add-heading" class="card stack">
                <h2 id="add-heading">"Add a member"</h2>
                <ActionForm action=add attr:class="stack">
                    <label>
                        <span>"Email"</span>
                        <input type="email" name="email" required autocomplete="off" />
                    </label>
                    <label>
                        <span>"Role"</span>
                        <select name="role">
                            {ROLES.iter().map(|(role, label)| view! {
                                <option value=role.as_str() selected=*role == Role::Member>{*label}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>
                        <span>"Password (optional)"</span>
                        <input type="password" name="password" autocomplete="new-password" minlength="10" />
                    </label>
                    <p class="muted">"Leave the password empty to get an invitation link (valid 72 hours) that lets them choose one."</p>
                    <button type="submit" class="button primary" disabled=move || add.pending().get()>"Add member"</button>
                </ActionForm>
                {move || added().map(|added| match added.invite_url {
                    Some(url) => view! {
                        <div class="secret" role="status">
                            <p>{format!("Send this link to {}: it is shown only this once.", added.member.email)}</p>
                            <code class="token-secret" data-invite-url="">{url.clone()}</code>
                            " "
                            <CopyButton text=url />
                        </div>
                    }
                    .into_any(),
                    None => view! { <p class="form-ok" role="status">{format!("{} can log in now.", added.member.email)}</p> }.into_any(),
                })}
            </section>
            {move || failure().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <section aria-labelledby="members-heading" class="card stack">
                <h2 id="members-heading">"People"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading members…"</p> }>
                    {move || Suspend::new(async move {
                        match members.await {
                            Ok(list) => view! {
                                <div class="table-scroll"><table class="members">
                                    <thead><tr><th>"Email"</th><th>"Role"</th><th>"Status"</th><th>"Added"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|member| view! { <MemberRow member change remove /> }).collect_view()}
                                    </tbody>
                                </table></div>
                            }
                            .into_any(),
                            Err(error) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
}

#[component]
fn MemberRow(
    member: Member,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let id = member.id.to_string();
    let change_id = id.clone();
    let email = member.email.clone();
    view! {
        <tr data-member=member.email.clone()>
            <td>{member.email.clone()}</td>
            <td>
                <ActionForm action=change attr:class="inline-form">
                    <input type="hidden" name="id" value=change_id />
                    <select name="role" aria-label=format!("Role of {email}")>
                        {[Role::Viewer, Role::Member, Role::Owner].into_iter().map(|role| view! {
                            <option value=role.as_str() selected=role == member.role>{role.as_str()}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class="button small">"Change"</button>
                </ActionForm>
            </td>
            <td>{if member.pending { "invited" } else { "active" }}</td>
            <td><Ago at=member.created_at /></td>
            <td>
                {move || if confirming.get() {
                    let id = id.clone();
                    view! {
                        <ActionForm action=remove attr:class="inline-form">
                            <input type="hidden" name="id" value=id />
                            <button type="submit" class="button danger small">"Yes, remove"</button>
                            <button type="button" class="button subtle small" on:click=move |_| confirming.set(false)>"Keep"</button>
                        </ActionForm>
                    }
                    .into_any()
                } else {
                    view! {
                        <button type="button" class="button danger small" on:click=move |_| confirming.set(true)>"Remove"</button>
                    }
                    .into_any()
                }}
            </td>
        </tr>
    }
}
