//! `holdpoint serve`: the whole router on the store the settings name (embedded, or the
//! DynamoDB tables), with the sweep on a timer and the deliveries sent from this process.

use std::sync::Arc;

use holdpoint::backend::Backend;
use holdpoint::config::Settings;
use holdpoint::http::auth::Scheme;
use holdpoint::http::{AppState, Authenticator, Routes, app};

use crate::dev_keys::{self, Start};
use crate::error::CliError;
use crate::open::{Access, open_on};

pub async fn run(settings: &Settings) -> Result<(), CliError> {
    let data_dir = settings.data_dir.as_path();
    let backend = Backend::new(settings, Access::Serve);
    let opened = open_on(&backend).await?;
    let (auth, start) = match &settings.api_keys {
        Some(json) => (Authenticator::api_keys_from_json(json)?, None),
        None => {
            let directory = backend.directory().await?;
            let start = dev_keys::ensure(data_dir, directory.as_ref()).await?;
            (
                Authenticator::new(Scheme::ApiKey, directory, settings.auth_cache),
                Some(start),
            )
        }
    };
    let addr = settings.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::usage(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr()?;
    // Principals are read where callers are authenticated (a fixed key map, for tests, or the
    // directory); deliveries are kept beside the approvals and sent from this process.
    let (service, notifier) = backend
        .local_server(
            opened.service,
            auth.directory().clone(),
            settings.base_url_or(local),
        )
        .await?;
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(auth),
    };
    println!("Holdpoint is serving http://{local}");
    println!("data directory: {}", data_dir.display());
    println!("store: {}", opened.store_name);
    println!("signing key: {}", opened.key_source);
    println!("events: {}", backend.events_file().display());
    // Files of development versions that are no longer read: say so rather than ignore them.
    for old in ["journal.jsonl", "api-keys.json"] {
        if data_dir.join(old).exists() {
            println!(
                "note: {} is from a development version and is no longer read",
                data_dir.join(old).display()
            );
        }
    }
    match start {
        None => println!(
            "API keys: from {} (a fixed map, for tests)",
            holdpoint::config::API_KEYS
        ),
        Some(Start::Known(n)) => {
            println!("principals: {n} in the directory (holdpoint principals list)")
        }
        Some(Start::Empty) => println!(
            "principals: none; nobody can call. Add one: holdpoint principals add TENANT/NAME"
        ),
        Some(Start::Generated(json)) => {
            println!(
                "development API keys (shown once; kept in {}):",
                data_dir.join(dev_keys::FILE).display()
            );
            for (principal, key) in dev_keys::describe(&json) {
                println!("  {principal:<9} {key}");
            }
        }
    }
    if settings.allow_private_webhooks {
        println!(
            "webhooks: private addresses allowed ({}=1): for development only",
            holdpoint::config::ALLOW_PRIVATE_WEBHOOKS
        );
    }
    let deliveries = tokio::spawn(notifier.run());

    let checkpointing = service.clone();
    let every = settings.sweep_every;
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match service.sweep().await {
                Ok(r) if r.expired + r.escalated + r.republished > 0 => {
                    tracing::info!(
                        expired = r.expired,
                        escalated = r.escalated,
                        republished = r.republished,
                        "sweep"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweep failed"),
            }
        }
    });
    // Checkpoints of the chains that moved, signed with the key in the data directory.
    let checkpointer = {
        let service = checkpointing;
        let every = settings.checkpoint_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match service.checkpoint().await {
                    Ok(c) if c.written > 0 => {
                        tracing::info!(written = c.written, heads = c.heads, "checkpoints");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "checkpoints failed"),
                }
            }
        })
    };
    let auth = state.auth.clone();
    // `/metrics` is the local server's alone (loopback peers only; see crate::metrics).
    let routes = app(state, &Routes::ALL).route(
        crate::metrics::PATH,
        axum::routing::get(crate::metrics::serve),
    );
    let app = holdpoint::http::limits::bounded(routes, &settings.server, auth);
    let served = crate::listener::serve(listener, app, settings.server.connections, shutdown())
        .await
        .map_err(CliError::from);
    sweeper.abort();
    checkpointer.abort();
    deliveries.abort();
    println!("Holdpoint stopped");
    served
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
