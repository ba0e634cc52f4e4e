//! Logging in and out, and who is logged in.

use leptos::prelude::*;
use model::{AppError, CurrentUser};

/// Where to go after login: only a path on this site, never another origin
/// (`//evil.example`, `https://…`), so the login form cannot be used to redirect away.
/// Only visible ASCII is accepted, so the value is always a valid `Location` header.
pub fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.bytes().all(|byte| byte.is_ascii_graphic());
    if local && !next.starts_with("/login") {
        next
    } else {
        "/"
    }
}

#[server(prefix = "/fn", endpoint = "login")]
pub async fn login(email: String, password: String, next: String) -> Result<(), AppError> {
    ssr::with_status(async {
        let state = ssr::state()?;
        let session = ssr::session().await?;
        let ip = ssr::client_ip().await;
        let user = store::auth::login(
            &state.db,
            &state.logins,
            &email,
            &password,
            model::Via::Session,
            ip,
        )
        .await?;
        crate::session::start_session(&session, &user).await?;
        leptos_axum::redirect(safe_next(&next));
        Ok(())
    })
    .await
}

#[server(prefix = "/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    ssr::with_status(async {
        let session = ssr::session().await?;
        crate::session::end_session(&session).await?;
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

/// The signed-in user, or `None`.
#[server(prefix = "/fn", endpoint = "signed_in_user")]
pub async fn signed_in_user() -> Result<Option<CurrentUser>, AppError> {
    ssr::with_status(async {
        let state = ssr::state()?;
        let session = ssr::session().await?;
        crate::session::session_user(&state.db, &session).await
    })
    .await
}

#[cfg(feature = "ssr")]
use super::ssr;

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next("/?status=failed"), "/?status=failed");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example/"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/login"), "/");
        assert_eq!(safe_next(""), "/");
        assert_eq!(safe_next("/runs\nSet-Cookie: x=1"), "/");
        assert_eq!(safe_next("/é"), "/");
    }
}
