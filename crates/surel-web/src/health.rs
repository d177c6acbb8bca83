//! `/healthz`: whether every listener still accepts, the account database
//! answers, and the data dir's file system has room. 200 with `ok` first,
//! or 503 with `fail` first; one line per check after it, for people.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Web;

/// The things `/healthz` checks.
pub struct Health {
    listeners: Mutex<Vec<(&'static str, SocketAddr, Arc<AtomicBool>)>>,
    data_dir: PathBuf,
    min_free_bytes: u64,
}

impl Health {
    pub fn new(data_dir: PathBuf, min_free_bytes: u64) -> Arc<Health> {
        Arc::new(Health {
            listeners: Mutex::new(Vec::new()),
            data_dir,
            min_free_bytes,
        })
    }

    /// Registers a listener as up; store `false` in the flag when its
    /// accept loop ends.
    pub fn listener(&self, role: &'static str, addr: SocketAddr) -> Arc<AtomicBool> {
        let up = Arc::new(AtomicBool::new(true));
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((role, addr, Arc::clone(&up)));
        up
    }
}

/// Free bytes (for unprivileged users) on the file system holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

pub(crate) async fn show(State(web): State<Arc<Web>>) -> Response {
    let Some(health) = web.health.clone() else {
        return "ok\n".into_response();
    };
    let mut lines = String::new();
    let mut healthy = true;
    let mut check = |ok: bool, line: String| {
        healthy &= ok;
        let _ = writeln!(lines, "{} {line}", if ok { "ok  " } else { "FAIL" });
    };
    let listeners = health
        .listeners
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for (role, addr, up) in listeners {
        let up = up.load(Ordering::SeqCst);
        check(
            up,
            format!("listener {role} {addr} {}", if up { "up" } else { "down" }),
        );
    }
    let auth = Arc::clone(&web.auth);
    match tokio::task::spawn_blocking(move || auth.store().check()).await {
        Ok(Ok(())) => check(true, "database reachable".into()),
        Ok(Err(e)) => check(false, format!("database: {e}")),
        Err(e) => check(false, format!("database check panicked: {e}")),
    }
    match free_bytes(&health.data_dir) {
        Ok(free) => check(
            free >= health.min_free_bytes,
            format!(
                "disk {} free in {} (minimum {})",
                gib(free),
                health.data_dir.display(),
                gib(health.min_free_bytes)
            ),
        ),
        Err(e) => check(false, format!("disk: {}: {e}", health.data_dir.display())),
    }
    let (status, first) = if healthy {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "fail")
    };
    let mut response = (status, format!("{first}\n{lines}")).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
