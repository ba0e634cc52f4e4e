//! The run page's calls: the run with its steps and artifact previews, its events
//! page by page, and the owner's actions (cancel, retry, delete). They use the same
//! database functions as the JSON API, so the same rules hold.

use leptos::prelude::*;
use model::{AppError, EventPage, LogFilter, Run, RunDetail};

#[server(prefix = "/fn", endpoint = "run_detail")]
pub async fn load_run(
    id: String,
    #[server(default)] log: LogFilter,
) -> Result<RunDetail, AppError> {
    super::ssr::with_status(async {
        let (state, user, stored) = ssr::callers_run(&id).await?;
        let id = stored.run.id;
        let campaign_name = match stored.run.campaign_id {
            Some(campaign) => {
                store::db::campaigns::get_campaign(&state.db.read, user.account_pk, campaign)
                    .await
                    .ok()
                    .map(|campaign| campaign.name)
            }
            None => None,
        };
        let steps = store::db::steps::list_steps(&state.db.read, stored.pk).await?;
        let mut artifacts = Vec::new();
        for artifact in store::db::artifacts::list_artifacts(&state.db.read, stored.pk).await? {
            artifacts.push(ssr::artifact_view(&state, id, artifact).await);
        }
        // A failed run's log opens a few events before its first error.
        let opened_at_error = if log.is_empty() && stored.run.status == model::RunStatus::Failed {
            store::db::events::first_error_seq(&state.db.read, stored.pk).await?
        } else {
            None
        };
        let after = opened_at_error.map_or(0, |seq| (seq - ERROR_CONTEXT - 1).max(0));
        let query = ssr::event_query(&log, &steps, after, None);
        let events = store::db::events::list_events(&state.db.read, stored.pk, &query).await?;
        Ok(RunDetail {
            run: stored.run,
            campaign_name,
            steps,
            artifacts,
            events,
            opened_at_error,
        })
    })
    .await
}

/// Events shown before a failed run's first error when its log opens there.
#[cfg(feature = "ssr")]
const ERROR_CONTEXT: i64 = 3;

/// A page of a run's events after sequence number `after` (or, with `before`, the
/// page just before that one) under the log's filter.
#[server(prefix = "/fn", endpoint = "run_events")]
pub async fn run_events(
    id: String,
    after: i64,
    before: Option<i64>,
    #[server(default)] log: LogFilter,
) -> Result<EventPage, AppError> {
    super::ssr::with_status(async {
        let (state, _, stored) = ssr::callers_run(&id).await?;
        let steps = if log.step.is_some() {
            store::db::steps::list_steps(&state.db.read, stored.pk).await?
        } else {
            Vec::new()
        };
        let query = ssr::event_query(&log, &steps, after, before);
        store::db::events::list_events(&state.db.read, stored.pk, &query).await
    })
    .await
}

/// Events shown per page of the log.
pub const EVENTS_PAGE: i64 = 100;

#[server(prefix = "/fn", endpoint = "cancel_run")]
pub async fn cancel_run(id: String) -> Result<Run, AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(model::Role::Member).await?;
        let id = model::parse_public_id(&id)?;
        Ok(store::db::runs::cancel_run(&state.db, &actor, id)
            .await?
            .run)
    })
    .await
}

/// Retries a failed or cancelled run; returns the new run's id.
#[server(prefix = "/fn", endpoint = "retry_run")]
pub async fn retry_run(id: String) -> Result<String, AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(model::Role::Member).await?;
        let retried =
            store::db::runs::retry_run(&state.db, &actor, model::parse_public_id(&id)?).await?;
        Ok(retried.run.id.to_string())
    })
    .await
}

#[server(prefix = "/fn", endpoint = "delete_run")]
pub async fn delete_run(id: String) -> Result<(), AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(model::Role::Owner).await?;
        let keys =
            store::db::runs::delete_run(&state.db, &actor, model::parse_public_id(&id)?).await?;
        store::prune::discard_files(&state.db, &state.store, &keys).await;
        Ok(())
    })
    .await
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use model::{LogFilter, Step};
    use store::db::events::EventQuery;

    /// The events query of a log filter: its type and search, and for a step the
    /// time its attempt ran (to now while it runs; nothing for a step that has not
    /// started or does not exist).
    pub fn event_query(
        log: &LogFilter,
        steps: &[Step],
        after: i64,
        before: Option<i64>,
    ) -> EventQuery {
        let received = log.step.as_ref().map(|(step_id, attempt)| {
            steps
                .iter()
                .filter(|step| &step.step_id == step_id)
                .filter(|step| attempt.is_none_or(|attempt| step.attempt == attempt))
                .max_by_key(|step| step.attempt)
                .and_then(|step| {
                    let started = step.started_at?.timestamp_millis();
                    let ended = step
                        .ended_at
                        .map_or(i64::MAX, |ended| ended.timestamp_millis());
                    Some((started, ended))
                })
                // No such attempt, or not started: a window nothing falls in.
                .unwrap_or((1, 0))
        });
        EventQuery {
            after: Some(after),
            before,
            limit: super::EVENTS_PAGE,
            event_type: Some(log.event_type.clone()).filter(|value| !value.trim().is_empty()),
            q: Some(log.q.clone()).filter(|value| !value.trim().is_empty()),
            received,
        }
    }

    use crate::state::AppState;
    use model::AppError;
    use model::{Artifact, ArtifactView, CurrentUser, Preview};
    use store::db::runs::StoredRun;
    use store::preview::{self, ArtifactKind};
    use uuid::Uuid;

    /// The signed-in caller and their run with this id (`NotFound` for anyone else's).
    pub async fn callers_run(id: &str) -> Result<(AppState, CurrentUser, StoredRun), AppError> {
        let (state, user) = crate::functions::ssr::require_user().await?;
        let id = model::parse_public_id(id)?;
        let stored = store::db::runs::find_run(&state.db.read, user.account_pk, id).await?;
        Ok((state, user, stored))
    }

    /// What a markdown preview may contain: ammonia's allow-list of tags and
    /// attributes, and links and images to http(s), mailto and relative URLs only
    /// (pulldown-cmark writes any scheme it is given, `javascript:` included).
    static MARKDOWN_POLICY: std::sync::LazyLock<ammonia::Builder<'static>> =
        std::sync::LazyLock::new(|| {
            let mut policy = ammonia::Builder::default();
            policy
                .url_schemes(["http", "https", "mailto"].into_iter().collect())
                .url_relative(ammonia::UrlRelative::PassThrough)
                .link_rel(Some("noopener noreferrer nofollow"));
            policy
        });

    /// Markdown to HTML for the page: raw HTML in it is shown as text, never
    /// interpreted, and the result is sanitised ([`MARKDOWN_POLICY`]).
    pub fn markdown_html(text: &str) -> String {
        use pulldown_cmark::{Event, Options, Parser};
        let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
            .map(|event| match event {
                Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
                other => other,
            });
        let mut html = String::new();
        pulldown_cmark::html::push_html(&mut html, parser);
        MARKDOWN_POLICY.clean(&html).to_string()
    }

    pub async fn artifact_view(state: &AppState, run_id: Uuid, artifact: Artifact) -> ArtifactView {
        let content_url = preview::content_url(run_id, &artifact);
        let kind = preview::kind_of(&artifact);
        let preview = match kind {
            ArtifactKind::Image if content_url.is_some() => Preview::Image,
            ArtifactKind::Html if artifact.has_own_content() => Preview::Html,
            kind if kind.is_text() => match preview::small_text(&state.store, &artifact).await {
                Some(text) => match kind {
                    ArtifactKind::Markdown => Preview::Markdown {
                        html: markdown_html(&text),
                    },
                    ArtifactKind::Json => Preview::Json {
                        text: preview::pretty_json(text),
                    },
                    _ => Preview::Text { text },
                },
                None => Preview::None,
            },
            _ => Preview::None,
        };
        ArtifactView {
            artifact,
            content_url,
            preview,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::markdown_html;

        /// Every tag of the HTML, `<` to `>` (text is escaped, so holds no `<`).
        fn tags(html: &str) -> Vec<&str> {
            html.split('<')
                .skip(1)
                .map(|rest| &rest[..rest.find('>').unwrap_or(rest.len())])
                .collect()
        }

        /// Every `href` and `src` value in the tags of the HTML.
        fn urls(html: &str) -> Vec<String> {
            let mut urls = Vec::new();
            for tag in tags(html) {
                for attribute in [" href=\"", " src=\""] {
                    if let Some(at) = tag.find(attribute) {
                        let rest = &tag[at + attribute.len()..];
                        urls.push(rest[..rest.find('"').unwrap_or(rest.len())].to_string());
                    }
                }
            }
            urls
        }

        /// Renders the markdown and checks that no link or image in it has a
        /// script or data URL, read the way a browser reads one (case-insensitive,
        /// tabs and newlines dropped).
        fn assert_no_script_urls(markdown: &str) -> String {
            let html = markdown_html(markdown);
            for url in urls(&html) {
                let url: String = url
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
                    .collect::<String>()
                    .to_ascii_lowercase();
                for scheme in ["javascript:", "data:", "vbscript:", "&#"] {
                    assert!(!url.contains(scheme), "{markdown:?} rendered as {html}");
                }
            }
            html
        }

        #[test]
        fn markdown_is_rendered_and_raw_html_is_escaped() {
            let html = markdown_html("# Report\n\n*ok* <script>alert(1)</script>");
            assert!(html.contains("<h1>Report</h1>"));
            assert!(html.contains("<em>ok</em>"));
            assert!(!html.contains("<script>"), "{html}");
            assert!(html.contains("&lt;script&gt;"));
        }

        #[test]
        fn links_to_script_urls_lose_their_target_whatever_the_case() {
            for markdown in [
                "[click](javascript:alert(1))",
                "[click](JaVaScRiPt:alert(1))",
                "[click]( javascript:alert(1) )",
                "[click](&#106;avascript:alert(1))",
                "[click](<java\tscript:alert(1)>)",
                "[click](vbscript:msgbox(1))",
                "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
                "[click][ref]\n\n[ref]: javascript:alert(1)",
            ] {
                let html = assert_no_script_urls(markdown);
                assert!(html.contains("click"), "the text stays: {html}");
            }
        }

        #[test]
        fn autolinks_to_script_urls_are_not_links() {
            for markdown in [
                "<javascript:alert(1)>",
                "<JAVASCRIPT:alert(1)>",
                "<data:text/html,<b>x</b>>",
            ] {
                assert_no_script_urls(markdown);
            }
            let html = markdown_html("<https://example.com/report>");
            assert_eq!(urls(&html), ["https://example.com/report"], "{html}");
        }

        #[test]
        fn images_from_data_and_script_urls_have_no_source() {
            for markdown in [
                "![chart](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
                "![chart](DATA:image/png;base64,iVBORw0KGgo=)",
                "![chart](javascript:alert(1))",
            ] {
                let html = assert_no_script_urls(markdown);
                assert!(!html.contains("src="), "{html}");
            }
        }

        #[test]
        fn http_mailto_and_relative_urls_are_kept() {
            let html = markdown_html(
                "[a](https://example.com/a) [b](http://example.com/b) [c](mailto:ops@example.com) \
                 [d](/runs?status=failed) [e](details.md) ![f](https://example.com/f.png)",
            );
            assert_eq!(
                urls(&html),
                [
                    "https://example.com/a",
                    "http://example.com/b",
                    "mailto:ops@example.com",
                    "/runs?status=failed",
                    "details.md",
                    "https://example.com/f.png",
                ],
                "{html}"
            );
            assert!(
                html.contains("rel=\"noopener noreferrer nofollow\""),
                "{html}"
            );
        }

        #[test]
        fn raw_html_never_becomes_elements_or_event_handlers() {
            for markdown in [
                "<script>alert(1)</script>",
                "<img src=x onerror=alert(1)>",
                "text <a href=\"javascript:alert(1)\" onclick=\"alert(1)\">x</a>",
                "<div onmouseover=\"alert(1)\">\n\nhover\n\n</div>",
                "<svg><script>alert(1)</script></svg>",
                "<iframe src=\"javascript:alert(1)\"></iframe>",
            ] {
                let html = assert_no_script_urls(markdown);
                for tag in tags(&html) {
                    let name = tag.split_whitespace().next().unwrap_or("");
                    assert!(
                        matches!(name, "p" | "/p"),
                        "{markdown:?} rendered as {html}"
                    );
                    assert!(!tag.contains(" on"), "{markdown:?} rendered as {html}");
                }
            }
        }
    }
}
