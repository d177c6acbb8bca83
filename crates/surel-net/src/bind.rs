//! Binding a listening socket, with errors an admin can act on.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Why a listener could not start, said in plain words with the config key.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} ({key}): {reason}")]
pub struct BindError {
    pub key: String,
    pub addr: SocketAddr,
    pub reason: String,
}

/// Binds `addr` with SO_REUSEADDR (so a restart does not wait for TIME_WAIT).
pub fn bind(addr: SocketAddr, key: &str) -> Result<TcpListener, BindError> {
    let attempt = || -> io::Result<TcpListener> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(1024)
    };
    attempt().map_err(|e| BindError {
        key: key.to_string(),
        addr,
        reason: explain(&e, addr),
    })
}

fn explain(e: &io::Error, addr: SocketAddr) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied if addr.port() < 1024 => format!(
            "port {} needs root or CAP_NET_BIND_SERVICE (the systemd unit grants it; \
             or choose a port above 1023)",
            addr.port()
        ),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::AddrInUse => format!(
            "port {} is already in use: stop the other server listening there \
             (`ss -ltnp 'sport = :{}'` shows it) or choose another address",
            addr.port(),
            addr.port()
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine: use one that `ip addr` lists, or 0.0.0.0",
            addr.ip()
        ),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_in_use_is_explained() {
        let first = bind("127.0.0.1:0".parse().unwrap(), "imap.listen").unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr, "imap.listen").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("imap.listen"), "{text}");
        assert!(text.contains("already in use"), "{text}");
    }

    #[tokio::test]
    async fn a_foreign_address_is_explained() {
        let err = bind("192.0.2.1:0".parse().unwrap(), "smtp.listen").unwrap_err();
        assert!(
            err.to_string().contains("not an address of this machine"),
            "{err}"
        );
    }
}
