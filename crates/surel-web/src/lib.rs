//! surel-web owns the HTTPS listener: the self-service password change page,
//! client autoconfiguration (Thunderbird autoconfig, Outlook Autodiscover),
//! health and metrics.
//!
//! It must not touch SQLite directly (password changes go through
//! `surel-auth`) and must never serve anything over plain HTTP. Until
//! issue 8 lands it answers `/healthz` and 404 for everything else.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tracing::debug;

use surel_net::{BoxFuture, Conn, Service};

/// The web service for the `web.listen` listeners (implicit TLS).
#[derive(Clone)]
pub struct WebService {
    router: Router,
}

impl Default for WebService {
    fn default() -> Self {
        Self::new()
    }
}

impl WebService {
    pub fn new() -> Self {
        let router = Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .layer(axum::middleware::map_response(security_headers));
        WebService { router }
    }
}

/// Headers every response carries (HSTS: this listener is HTTPS only).
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

impl Service for WebService {
    fn serve(self: Arc<Self>, conn: Conn) -> BoxFuture {
        Box::pin(async move {
            let Conn { stream, ctx, .. } = conn;
            let service = TowerToHyperService::new(self.router.clone());
            let http = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(ctx.timeouts.idle)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(http);
            let result = tokio::select! {
                result = http.as_mut() => result,
                _ = ctx.shutdown.cancelled() => {
                    // Finish the request in flight, then close.
                    http.as_mut().graceful_shutdown();
                    http.await
                }
            };
            if let Err(e) = result {
                debug!(error = %e, "HTTP connection ended with an error");
            }
        })
    }

    fn busy_reply(&self) -> Option<&'static [u8]> {
        None
    }
}
