//! What the SMTP side counts for `/metrics`: messages received per
//! listener, and per recipient delivered (with the time it took), deferred
//! or bounced. Names follow Prometheus conventions; surel-web renders them.

use std::time::Duration;

/// Where a delivery went: a local maildir or another server.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    Local,
    Remote,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Local => "local",
            Via::Remote => "remote",
        }
    }
}

/// A message accepted with 250 on `listener` (smtp, submission, submissions).
pub fn received(listener: &'static str) {
    metrics::counter!("surel_messages_received_total", "listener" => listener).increment(1);
}

/// `count` recipients got the message, `took` after it was received.
pub fn delivered(via: Via, count: usize, took: Duration) {
    if count == 0 {
        return;
    }
    metrics::counter!("surel_messages_delivered_total", "via" => via.as_str())
        .increment(count as u64);
    let histogram = metrics::histogram!("surel_delivery_seconds", "via" => via.as_str());
    for _ in 0..count {
        histogram.record(took.as_secs_f64());
    }
}

/// `count` recipients must wait for another attempt.
pub fn deferred(count: usize) {
    metrics::counter!("surel_messages_deferred_total").increment(count as u64);
}

/// `count` recipients failed for good; the sender is told.
pub fn bounced(count: usize) {
    metrics::counter!("surel_messages_bounced_total").increment(count as u64);
}
