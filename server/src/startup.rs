//! Builds the application (database, first owner, router, sessions) and serves it
//! until a shutdown signal, finishing in-flight requests first.

use crate::config::Config;
use crate::outbox::RetryPolicy;
use app::state::AppState;
use app::state::Limits;
use app::{shell, App};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use http::StatusCode;
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use store::auth::{self, Bootstrap};
use store::db::{settings, Db};
use store::fanout::{Fanout, LiveOptions};
use store::keys::Keys;
use store::storage::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use crate::http::layers::SESSION_COOKIE;

/// A built server, bound to its address but not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    db: Db,
    addr: SocketAddr,
    /// Stops the outbox worker, the background prune and the bulk job worker.
    stop_outbox: watch::Sender<bool>,
    outbox: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
    /// Evaluates the threshold alert rules; stopped like the outbox.
    alerts: tokio::task::JoinHandle<()>,
    pruner: tokio::task::JoinHandle<()>,
    /// The bulk job worker, when it runs; stopped like the outbox.
    bulk: Option<tokio::task::JoinHandle<()>>,
    /// Ends the live streams (they would otherwise hold graceful shutdown open forever).
    stop_streams: watch::Sender<bool>,
    fanout: tokio::task::JoinHandle<()>,
    /// Scheduled backups, when configured; stopped like the outbox.
    backups: Option<tokio::task::JoinHandle<()>>,
    /// Held while the server lives: a restore refuses while it is taken.
    lock: Option<store::backup::ServerLock>,
}

/// How long shutdown waits for a scheduled backup in progress to finish.
const BACKUP_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        config.check().map_err(anyhow::Error::msg)?;
        // Before anything counts: the process's metrics recorder.
        crate::metrics::handle();
        let lock = crate::backup::lock_database(&config)?;
        let listener = TcpListener::bind(config.site_addr).await?;
        let addr = listener.local_addr()?;
        let db = open_database(&config, addr).await?;

        let leptos_options = LeptosOptions::builder()
            .output_name(crate::site::bundle_name(std::path::Path::new(
                &config.site_root,
            )))
            .site_root(config.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let keys = Keys::new(
            &match &config.runner_auth_secret {
                Some(secret) => secret.clone(),
                None => settings::secret(&db, settings::RUNNER_TOKEN_SECRET).await?,
            },
            &settings::secret(&db, settings::API_JWT_SECRET).await?,
            config.runner_auth_secret.clone(),
        );
        let (stop_streams, streams_stopped) = watch::channel(false);
        let live_options = LiveOptions {
            heartbeat: std::time::Duration::from_secs(config.heartbeat_secs.max(1)),
            ..LiveOptions::default()
        };
        let (live, fanout) = Fanout::start(db.clone(), live_options, streams_stopped)
            .await
            .map_err(|error| anyhow::anyhow!("could not start the live stream: {error}"))?;
        let limits = Limits {
            max_upload_bytes: config.max_upload,
            ..Limits::default()
        };
        let mailer = config
            .smtp_url
            .as_deref()
            .map(|url| crate::mail::Mailer::new(url, &config.smtp_from))
            .transpose()?
            .map(Arc::new);
        let state = AppState {
            db: db.clone(),
            leptos_options,
            keys: Arc::new(keys),
            store: artifact_store(&config)?,
            limits,
            public_url: public_url(&config, addr).into(),
            live,
            logins: Arc::new(store::login_limit::LoginLimiter::new(
                config.login_failures_per_minute,
            )),
            alert_delivery: store::db::alerts::Delivery {
                email: mailer.is_some(),
            },
        };

        let sessions = crate::http::layers::sessions(&db, config.serves_tls());

        let policy = RetryPolicy {
            base_delay: std::time::Duration::from_millis(config.retry_base_ms),
            ..RetryPolicy::default()
        };
        let (stop_outbox, stopped) = watch::channel(false);
        let pruner = tokio::spawn(crate::prune::run(
            db.clone(),
            state.store.clone(),
            (config.prune_secs > 0).then(|| std::time::Duration::from_secs(config.prune_secs)),
            stopped.clone(),
        ));
        let backups = crate::backup::Schedule::from_config(&config).map(|schedule| {
            tokio::spawn(crate::backup::run_schedule(
                config.clone(),
                schedule,
                stopped.clone(),
            ))
        });
        let bulk = config.bulk_worker.then(|| {
            tokio::spawn(crate::bulk::run(
                db.clone(),
                state.store.clone(),
                stopped.clone(),
            ))
        });
        let outbox = tokio::spawn(crate::outbox::run(
            state.clone(),
            policy,
            mailer,
            stopped.clone(),
        ));
        let alerts = tokio::spawn(crate::alerts::run(
            db.clone(),
            std::time::Duration::from_secs(config.alert_secs.max(1)),
            stopped.clone(),
        ));
        db.set_retry_base(std::time::Duration::from_millis(config.retry_base_ms));
        let sweeper = tokio::spawn(crate::sweeper::run(
            db.clone(),
            std::time::Duration::from_secs(config.sweep_secs.max(1)),
            stopped,
        ));
        let metrics_access = crate::metrics::MetricsAccess::new(config.metrics_token.as_deref());

        let security = crate::http::layers::SecurityHeaders {
            hsts: config.serves_tls(),
            // What Leptos' reload script itself looks at.
            dev_reload: std::env::var("LEPTOS_WATCH").is_ok(),
        };
        let trusted = Arc::new(crate::http::forwarded::TrustedProxies(
            config.trusted_proxies.clone(),
        ));
        let router = router(state, sessions, security, metrics_access).layer(
            axum::middleware::from_fn_with_state(trusted, crate::http::forwarded::client_address),
        );
        Ok(Application {
            listener,
            router,
            db,
            addr,
            stop_outbox,
            outbox,
            sweeper,
            alerts,
            pruner,
            bulk,
            stop_streams,
            fanout,
            backups,
            lock,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's own database handle: its writes drop the server's kept views
    /// at once, as a request's would.
    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// Serves until `shutdown` completes, then lets open requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!("Runboard listening on http://{}", self.addr);
        let stop_streams = self.stop_streams;
        // Routes prepared once: serving the bare `Router` deep-copies the whole
        // routing table for every accepted connection (≈ 110 KB each, measured with
        // heaptrack; docs/performance.md "Live stream fan-out").
        // TCP_NODELAY: a streamed page leaves in several writes, and with Nagle's
        // algorithm on, a keep-alive connection waits 40 ms for the client's delayed
        // ACK before each later write (docs/performance.md "Scale benchmark").
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::warn!("could not set TCP_NODELAY on a connection: {err}");
            }
        });
        axum::serve(
            listener,
            self.router
                .with_state(())
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_streams.send(true);
        })
        .await?;
        let _ = self.stop_outbox.send(true);
        let _ = self.outbox.await;
        let _ = self.sweeper.await;
        let _ = self.alerts.await;
        if let Some(backups) = self.backups {
            if tokio::time::timeout(BACKUP_STOP_WAIT, backups)
                .await
                .is_err()
            {
                tracing::warn!("a scheduled backup did not finish within {BACKUP_STOP_WAIT:?}; its partial copy is removed at the next start");
            }
        }
        let _ = self.pruner.await;
        if let Some(bulk) = self.bulk {
            let _ = bulk.await;
        }
        let _ = self.fanout.await;
        self.db.close().await;
        drop(self.lock);
        tracing::info!("Runboard stopped");
        Ok(())
    }
}

/// Where uploaded artifact files live: the S3 bucket when one is configured,
/// else the artifact directory. The server and `runboard prune` share it.
pub fn artifact_store(config: &Config) -> anyhow::Result<Store> {
    Ok(match &config.s3_bucket {
        Some(bucket) => Store::s3(bucket, config.s3_endpoint.as_deref())?,
        None => Store::local(&config.artifact_dir)?,
    })
}

/// Opens the database (migrating it) and, on the very first start, creates the
/// owner and says how to log in. The server and the command line tools share it.
pub async fn open_database(config: &Config, addr: SocketAddr) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url).await?;
    db.outbound().allow(config.outbound_allow.iter().cloned());
    let bootstrap = auth::bootstrap_owner(
        &db,
        config.admin_email.as_deref(),
        config.admin_password.as_deref(),
    )
    .await
    .map_err(|error| anyhow::anyhow!("could not create the first owner: {error}"))?;
    announce(&bootstrap, &login_url(config, addr));
    Ok(db)
}

fn router(
    state: AppState,
    sessions: tower_sessions::SessionManagerLayer<crate::sessions::Sessions>,
    security: crate::http::layers::SecurityHeaders,
    metrics_access: crate::metrics::MetricsAccess,
) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let bundle = crate::site::bundle_router(
        std::path::Path::new(&*options.site_root),
        &options.output_name,
    );
    let pages = Router::new().leptos_routes_with_context(
        &state,
        routes,
        crate::http::layers::page_nonce,
        move || shell(options.clone()),
    );
    let scraped = Arc::new(crate::metrics::Scraped::default());
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/metrics",
            get(move |state, parts| {
                crate::metrics::metrics_endpoint(
                    state,
                    metrics_access.clone(),
                    scraped.clone(),
                    parts,
                )
            }),
        )
        .merge(crate::api::router(state.limits.max_upload_bytes));
    crate::http::layers::around(
        state,
        pages,
        open,
        leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            crate::http::layers::page_nonce,
            shell,
        ),
        bundle,
        sessions,
        security,
    )
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(_) => Json(serde_json::json!({"ok": true, "data": {"status": "ok"}})).into_response(),
        Err(error) => {
            tracing::error!(%error, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"ok": false, "error": {"code": "unavailable", "message": "database unavailable"}})),
            )
                .into_response()
        }
    }
}

/// The base URL people and runners use to reach this server.
fn public_url(config: &Config, addr: SocketAddr) -> String {
    match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if addr.ip().is_unspecified() => format!("http://localhost:{}", addr.port()),
        None => format!("http://{addr}"),
    }
}

fn login_url(config: &Config, addr: SocketAddr) -> String {
    format!("{}/login", public_url(config, addr))
}

/// Says how to log in after the first start created the owner.
fn announce(bootstrap: &Bootstrap, login_url: &str) {
    match bootstrap {
        Bootstrap::Existing => {}
        Bootstrap::Created { email } => {
            println!("Runboard: created the first owner {email}. Log in at {login_url}");
        }
        Bootstrap::CreatedWithPassword { email, password } => {
            println!(
                "Runboard: created the first owner.\n  Log in at {login_url}\n  email:    {email}\n  password: {password}\n  (shown only this once; set RUNBOARD_ADMIN_PASSWORD to choose it)"
            );
        }
    }
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a SIGTERM that arrives right
/// after "listening on" is logged must stop the server gracefully too, not
/// kill it (the default action when no handler is installed yet).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |handler: std::io::Result<tokio::signal::unix::Signal>,
                        name: &'static str| async move {
                match handler {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot listen for {name}");
                        std::future::pending::<()>().await;
                    }
                }
            };
            let (interrupt, terminate) = handlers;
            tokio::select! {
                _ = wait(interrupt, "Ctrl-C") => {},
                _ = wait(terminate, "SIGTERM") => {},
            }
        }
        #[cfg(not(unix))]
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown signal received; finishing open requests");
    }
}
