//! A real Runboard server on 127.0.0.1:0 with a fresh SQLite file per test.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::redirect::Policy;
use runboard::config::Config;
use runboard::startup::Application;
use tempfile::TempDir;

pub const OWNER_EMAIL: &str = "owner@example.com";
pub const OWNER_PASSWORD: &str = "correct-horse-battery";

pub struct TestApp {
    pub base: String,
    /// A client that keeps cookies and does not follow redirects, so tests see them.
    pub client: reqwest::Client,
    pub db: app::db::Db,
    _dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the configuration first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/runboard.db", dir.path().display());
    let mut config = Config::for_database(&database_url);
    config.site_addr = "127.0.0.1:0".parse().unwrap();
    config.admin_email = Some(OWNER_EMAIL.to_string());
    config.admin_password = Some(OWNER_PASSWORD.to_string());
    config.site_root = dir.path().join("site").display().to_string();
    configure(&mut config);
    let app = Application::build(config).await.expect("server builds");
    let base = format!("http://{}", app.addr());
    tokio::spawn(app.run_until(std::future::pending()));
    let db = app::db::Db::connect(&database_url).await.unwrap();
    TestApp {
        base,

        client: new_client(),
        db,
        _dir: dir,
    }
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Posts the login form the way a browser without JavaScript does.
    pub async fn login_form(&self, email: &str, password: &str, next: &str) -> reqwest::Response {
        self.client
            .post(self.url("/fn/login"))
            .header(ACCEPT, "text/html")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&[
                ("email", email),
                ("password", password),
                ("next", next),
            ]))
            .send()
            .await
            .unwrap()
    }

    pub async fn login_owner(&self) {
        let response = self.login_form(OWNER_EMAIL, OWNER_PASSWORD, "/").await;
        assert_eq!(response.status(), 302, "owner login should redirect");
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn owner_account(&self) -> i64 {
        sqlx::query_scalar("SELECT account_pk FROM users WHERE email = ?")
            .bind(OWNER_EMAIL)
            .fetch_one(&self.db.read)
            .await
            .unwrap()
    }
}

pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(key, value)| format!("{key}={}", urlencode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
