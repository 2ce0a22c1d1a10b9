//! `holdpoint serve`: the whole router on the embedded store, with the sweep on a timer.

use std::sync::Arc;

use holdpoint::config::Settings;
use holdpoint::delivery::DeliveryLog;
use holdpoint::delivery::embedded::EmbeddedDeliveries;
use holdpoint::delivery::send::{Courier, Mailer};
use holdpoint::delivery::worker::{Notifier, NotifyingSink};
use holdpoint::events::JsonLinesSink;
use holdpoint::http::auth::Scheme;
use holdpoint::http::{AppState, Authenticator, Routes, app};

use crate::dev_keys::{self, Start};
use crate::open::{Access, open, open_directory};

pub async fn run(settings: &Settings) -> Result<(), String> {
    let data_dir = settings.data_dir.as_path();
    let opened = open(settings, Access::Serve).await?;
    let (auth, start) = match &settings.api_keys {
        Some(json) => (
            Authenticator::api_keys_from_json(json).map_err(|e| e.to_string())?,
            None,
        ),
        None => {
            let directory = open_directory(settings).await?;
            let start = dev_keys::ensure(data_dir, directory.as_ref()).await?;
            (
                Authenticator::new(Scheme::ApiKey, directory, settings.auth_cache),
                Some(start),
            )
        }
    };
    let directory = auth.directory().clone();
    let addr = settings.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;

    // Deliveries: kept in deliveries.db (the retry queue), sent by the notifier in this process.
    let log: Arc<dyn DeliveryLog> =
        Arc::new(EmbeddedDeliveries::open(data_dir).map_err(|e| e.to_string())?);
    let mailer = match &settings.smtp_url {
        Some(url) => Some(Mailer::smtp(
            url,
            settings
                .email_from
                .as_deref()
                .unwrap_or("holdpoint@localhost"),
        )?),
        None => None,
    };
    let courier = Courier::new(directory.clone(), mailer, settings.allow_private_webhooks)?;
    let notifier = Arc::new(
        Notifier::new(log.clone(), courier, directory.clone(), settings.delivery)
            .asking_only_while_waiting(Arc::new(opened.service.clone())),
    );
    // Lifecycle events go to events.jsonl, standing in for the bus; review links are printed.
    let events = JsonLinesSink::new(data_dir.join("events.jsonl"), true);
    let sink = NotifyingSink::new(Arc::new(events), notifier.clone());
    let service = opened
        .service
        .with_events(Arc::new(sink), settings.base_url_or(local))
        .with_directory(directory)
        .with_deliveries(log)
        .allowing_private_webhooks(settings.allow_private_webhooks);
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(auth),
    };
    println!("Holdpoint is serving http://{local}");
    println!("data directory: {}", data_dir.display());
    println!("store: {}", opened.store_name);
    println!("signing key: {}", opened.key_source);
    println!("events: {}", data_dir.join("events.jsonl").display());
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
        Some(Start::Imported(json)) => {
            println!(
                "API keys imported into the directory from {} (now {}.imported):",
                dev_keys::LEGACY,
                dev_keys::LEGACY
            );
            for (principal, key) in dev_keys::describe(&json) {
                println!("  {principal:<9} {key}");
            }
        }
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
    let served = crate::listener::serve(listener, app(state, &Routes::ALL), shutdown())
        .await
        .map_err(|e| e.to_string());
    sweeper.abort();
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
