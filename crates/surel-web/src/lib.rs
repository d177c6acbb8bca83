//! surel-web owns the HTTPS listener: the self-service password change page,
//! client autoconfiguration (Thunderbird autoconfig, Outlook Autodiscover),
//! the landing page; health and Prometheus metrics; and the expiry notice
//! mails that send users to the password page.
//!
//! It must not touch SQLite directly (password changes go through
//! `surel-auth`). Users' pages are served over HTTPS only; the optional
//! admin address (`web.admin_listen`, for a private network) carries
//! nothing but `/metrics` and `/healthz`.

mod autoconfig;
pub mod health;
mod html;
mod landing;
pub mod metrics;
pub mod notices;
mod password;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tracing::debug;

use surel_auth::{Authenticator, Language};
use surel_net::{BoxFuture, Conn, Service};

/// The ports mail clients are told to use.
#[derive(Debug, Clone, Copy)]
pub struct ClientPorts {
    pub imaps: u16,
    pub imap: u16,
    pub submissions: u16,
    pub submission: u16,
}

/// What the web pages need.
pub struct WebConfig {
    pub auth: Arc<Authenticator>,
    pub hostname: String,
    /// e.g. `https://mail.kemenkeu.go.id`
    pub public_url: String,
    pub language: Language,
    pub ports: ClientPorts,
    /// `None`: `/healthz` answers `ok` while the process serves.
    pub health: Option<Arc<health::Health>>,
    /// `None`: no `/metrics`.
    pub metrics: Option<metrics::MetricsConfig>,
}

pub(crate) type Web = WebConfig;

impl WebConfig {
    fn default_domain(&self) -> String {
        self.auth
            .store()
            .default_domain()
            .ok()
            .flatten()
            .unwrap_or_else(|| self.hostname.clone())
    }
}

/// The client's address, for the per-IP throttle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub SocketAddr);

/// The web service for the `web.listen` listeners (implicit TLS).
#[derive(Clone)]
pub struct WebService {
    router: Router,
}

impl WebService {
    /// The public HTTPS site, and the admin site (`/metrics`, `/healthz`)
    /// for `web.admin_listen`.
    pub fn new(config: WebConfig) -> (WebService, WebService) {
        let web = Arc::new(config);
        let admin = Router::new()
            .route("/metrics", get(metrics::admin))
            .route("/healthz", get(health::show))
            .with_state(Arc::clone(&web))
            .layer(axum::middleware::map_response(security_headers));
        let router = Router::new()
            .route("/", get(landing::show))
            .route("/password", get(password::show).post(password::submit))
            .route(
                "/password.js",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                        password::SCRIPT,
                    )
                }),
            )
            .route(
                "/style.css",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                        html::STYLE,
                    )
                }),
            )
            .route(
                "/.well-known/autoconfig/mail/config-v1.1.xml",
                get(autoconfig::thunderbird),
            )
            .route("/mail/config-v1.1.xml", get(autoconfig::thunderbird))
            .route("/autodiscover/autodiscover.xml", post(autoconfig::outlook))
            .route("/Autodiscover/Autodiscover.xml", post(autoconfig::outlook))
            .route(
                "/autodiscover/autodiscover.json",
                get(autoconfig::outlook_json),
            )
            .route("/healthz", get(health::show))
            .route("/metrics", get(metrics::public))
            .with_state(web)
            .layer(axum::middleware::map_response(security_headers));
        (WebService { router }, WebService { router: admin })
    }
}

/// Headers every response carries: HTTPS only, no framing, no sniffing,
/// scripts and styles from this server only.
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
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

impl Service for WebService {
    fn serve(self: Arc<Self>, conn: Conn) -> BoxFuture {
        Box::pin(async move {
            let Conn { stream, ctx, info } = conn;
            let router = self.router.clone().layer(axum::Extension(Peer(info.peer)));
            let service = TowerToHyperService::new(router);
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
