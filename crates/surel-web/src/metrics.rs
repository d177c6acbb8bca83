//! `/metrics` in the Prometheus text format. Counters are recorded where
//! things happen (surel-net: connections; surel-auth: logins; surel-smtp:
//! messages) through the `metrics` facade; the recorder installed here
//! keeps them. Gauges that describe stored state (queue size, accounts by
//! state, free disk) are read at scrape time instead of being tracked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::{Peer, Web};

/// Upper bounds of the latency histograms, in seconds: from a local
/// fsync to a remote delivery retried for a day.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0, 14400.0, 86400.0,
];

/// Installs the process-wide recorder; call once, before serving.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "surel_connections_total",
        "Connections accepted, per listener."
    );
    describe_gauge!(
        "surel_connections_open",
        "Connections open now, per listener."
    );
    describe_counter!(
        "surel_connections_refused_total",
        "Connections refused by a connection limit."
    );
    describe_counter!(
        "surel_tls_handshake_failures_total",
        "Implicit-TLS connections whose handshake failed."
    );
    describe_counter!(
        "surel_logins_total",
        "Logins by service (imap, smtp, web) and outcome."
    );
    describe_counter!(
        "surel_messages_received_total",
        "Messages accepted over SMTP, per listener."
    );
    describe_counter!(
        "surel_messages_delivered_total",
        "Recipients a message was delivered to, local or remote."
    );
    describe_counter!(
        "surel_messages_deferred_total",
        "Recipients whose delivery failed for now and will be retried."
    );
    describe_counter!(
        "surel_messages_bounced_total",
        "Recipients whose delivery failed for good."
    );
    describe_histogram!(
        "surel_delivery_seconds",
        metrics::Unit::Seconds,
        "Time from receipt to delivery, per recipient."
    );
    describe_gauge!(
        "surel_queue_messages",
        "Messages waiting in the outbound queue."
    );
    // Present from the start, so that rate() works before the first event.
    for via in ["local", "remote"] {
        metrics::counter!("surel_messages_delivered_total", "via" => via).increment(0);
    }
    metrics::counter!("surel_messages_deferred_total").increment(0);
    metrics::counter!("surel_messages_bounced_total").increment(0);
    describe_gauge!("surel_accounts", "Accounts by state.");
    describe_gauge!(
        "surel_disk_free_bytes",
        "Free space on the file system of data_dir."
    );
}

/// What `/metrics` reads besides the recorder.
pub struct MetricsConfig {
    pub prometheus: PrometheusHandle,
    /// Messages in the outbound queue.
    pub queue_size: Box<dyn Fn() -> std::io::Result<usize> + Send + Sync>,
    pub data_dir: PathBuf,
    /// Served on the admin address only; the public listener answers
    /// loopback clients alone (it is on the internet).
    pub admin_listener: bool,
}

/// Keeps the histograms from growing between scrapes.
pub async fn upkeep(handle: PrometheusHandle, shutdown: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

/// `/metrics` on the public HTTPS listener.
pub(crate) async fn public(
    State(web): State<Arc<Web>>,
    axum::Extension(peer): axum::Extension<Peer>,
) -> Response {
    let Some(config) = &web.metrics else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if config.admin_listener {
        return StatusCode::NOT_FOUND.into_response();
    }
    if !peer.0.ip().is_loopback() {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to loopback only; set web.admin_listen for a scraper elsewhere\n",
        )
            .into_response();
    }
    render(&web).await
}

/// `/metrics` on the admin listener.
pub(crate) async fn admin(State(web): State<Arc<Web>>) -> Response {
    render(&web).await
}

async fn render(web: &Arc<Web>) -> Response {
    let Some(config) = &web.metrics else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match (config.queue_size)() {
        Ok(n) => metrics::gauge!("surel_queue_messages").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count the queue"),
    }
    if let Ok(free) = crate::health::free_bytes(&config.data_dir) {
        metrics::gauge!("surel_disk_free_bytes").set(free as f64);
    }
    let auth = Arc::clone(&web.auth);
    match tokio::task::spawn_blocking(move || auth.count_by_state()).await {
        Ok(Ok(counts)) => {
            for (state, n) in counts {
                metrics::gauge!("surel_accounts", "state" => state.as_str()).set(n as f64);
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot count accounts"),
        Err(e) => tracing::warn!(error = %e, "metrics: account count panicked"),
    }
    config.prometheus.run_upkeep();
    let mut response = config.prometheus.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
