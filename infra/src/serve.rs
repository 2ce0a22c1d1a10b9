//! `holdpoint serve`: the whole router on the embedded store, with the sweep on a timer.

use std::sync::Arc;

use holdpoint::config::Settings;
use holdpoint::events::JsonLinesSink;
use holdpoint::http::{AppState, Authenticator, Routes, app};

use crate::dev_keys;
use crate::open::{Access, open};

pub async fn run(settings: &Settings) -> Result<(), String> {
    let data_dir = settings.data_dir.as_path();
    let opened = open(settings, Access::Serve).await?;
    let (auth, dev_keys) = match &settings.api_keys {
        Some(json) => (Authenticator::api_keys_from_json(json), None),
        None => {
            let (json, _new) = dev_keys::load_or_create(data_dir)?;
            (Authenticator::api_keys_from_json(&json), Some(json))
        }
    };
    let auth = auth.map_err(|e| e.to_string())?;
    let addr = settings.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Lifecycle events go to events.jsonl, standing in for the bus; review links are printed.
    let events = JsonLinesSink::new(data_dir.join("events.jsonl"), true);
    let service = opened
        .service
        .with_events(Arc::new(events), settings.base_url_or(local));
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(auth),
    };
    println!("Holdpoint is serving http://{local}");
    println!("data directory: {}", data_dir.display());
    println!("store: {}", opened.store_name);
    println!("signing key: {}", opened.key_source);
    println!("events: {}", data_dir.join("events.jsonl").display());
    match &dev_keys {
        Some(json) => {
            println!(
                "development API keys (from {}):",
                data_dir.join(dev_keys::FILE).display()
            );
            for (principal, key) in dev_keys::describe(json) {
                println!("  {principal:<9} {key}");
            }
        }
        None => println!("API keys: from {}", holdpoint::config::API_KEYS),
    }

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
