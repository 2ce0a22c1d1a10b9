//! `holdpoint serve`: the whole router on the embedded store, with the sweep on a timer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use holdpoint::events::JsonLinesSink;
use holdpoint::http::{AppState, Authenticator, Routes, app};
use holdpoint::service::Service;
use holdpoint::time::Clock;

use crate::{Place, dev_keys, open_keys, open_store};

pub async fn run(addr: SocketAddr, place: &Place, sweep_seconds: u64) -> Result<(), String> {
    let data_dir = place.data_dir.as_path();
    let expiry = holdpoint::config::expiry_bounds().map_err(|e| e.to_string())?;
    let (store, _, where_) = open_store(place, false).await?;
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let (keys, key_source) = open_keys(data_dir, true).await?;
    let (auth, dev_keys) = match std::env::var("HOLDPOINT_API_KEYS") {
        Ok(json) => (Authenticator::api_keys_from_json(&json), None),
        Err(_) => {
            let (json, _new) = dev_keys::load_or_create(data_dir)?;
            (Authenticator::api_keys_from_json(&json), Some(json))
        }
    };
    let auth = auth.map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Lifecycle events go to events.jsonl, standing in for the bus; review links are printed.
    let base_url =
        std::env::var("HOLDPOINT_PUBLIC_BASE_URL").unwrap_or_else(|_| format!("http://{local}"));
    let events = JsonLinesSink::new(data_dir.join("events.jsonl"), true);
    let service =
        Service::new(store, keys, Clock::system(), expiry).with_events(Arc::new(events), base_url);
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(auth),
    };
    println!("Holdpoint is serving http://{local}");
    println!("data directory: {}", data_dir.display());
    println!("store: {where_}");
    println!("signing key: {key_source}");
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
        None => println!("API keys: from HOLDPOINT_API_KEYS"),
    }

    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(sweep_seconds.max(1)));
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
    let served = axum::serve(listener, app(state, &Routes::ALL))
        .with_graceful_shutdown(shutdown())
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
