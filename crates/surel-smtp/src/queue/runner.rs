//! The queue runner: delivers due messages, retries with backoff, sends
//! the delay notice once and the bounce at the end, and gives up after the
//! queue lifetime. Woken early when a message is queued.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::bounce::{self, Notice};
use super::outbound::{self, OutboundConfig, RcptResult};
use super::{Entry, QueueStore, RcptStatus, now};
use crate::session::Shared;
use crate::stats::{self, Via};

/// Timing of retries and notices.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Waits between attempts; the last one repeats.
    pub retry: Vec<Duration>,
    pub max_age: Duration,
    pub delay_notice: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        let m = |n: u64| Duration::from_secs(60 * n);
        Schedule {
            retry: vec![m(5), m(15), m(30), m(60), m(120), m(240), m(480)],
            max_age: Duration::from_secs(5 * 24 * 3600),
            delay_notice: Duration::from_secs(4 * 3600),
        }
    }
}

/// The queue as the SMTP sessions and the runner share it.
pub struct Queue {
    pub store: QueueStore,
    pub outbound: OutboundConfig,
    pub schedule: Schedule,
    pub wake: Notify,
    in_flight: Mutex<HashSet<String>>,
    /// Connections at once per destination domain.
    per_domain: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

/// Deliveries to one domain at the same time (be polite to small servers).
const PER_DOMAIN: usize = 4;

impl Queue {
    pub fn new(store: QueueStore, outbound: OutboundConfig, schedule: Schedule) -> Queue {
        Queue {
            store,
            outbound,
            schedule,
            wake: Notify::new(),
            in_flight: Mutex::new(HashSet::new()),
            per_domain: Mutex::new(std::collections::HashMap::new()),
        }
    }
}

/// Runs until shutdown; at most `parallel` messages are in delivery at once.
pub async fn run(shared: Arc<Shared>, queue: Arc<Queue>, shutdown: CancellationToken) {
    let resolver = match (queue.outbound.dns_server, TokioResolver::builder_tokio()) {
        (Some(addr), _) => {
            use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], vec![server]),
                Default::default(),
            )
            .build()
        }
        (None, Ok(builder)) => builder.build(),
        (None, Err(e)) => {
            warn!(error = %e, "no system DNS configuration; using public resolvers");
            TokioResolver::builder_with_config(Default::default(), Default::default()).build()
        }
    };
    let resolver = match resolver {
        Ok(r) => Arc::new(r),
        Err(e) => {
            warn!(error = %e, "cannot start the DNS resolver; the queue stops");
            return;
        }
    };
    let _ = queue.store.clean();
    let slots = Arc::new(tokio::sync::Semaphore::new(8));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = queue.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let entries = match queue.store.list() {
            Ok(e) => e,
            Err(e) => {
                warn!(error = %e, "cannot read the queue");
                continue;
            }
        };
        for entry in entries.into_iter().filter(|e| e.next_try <= now()) {
            {
                let mut busy = queue.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                if !busy.insert(entry.id.clone()) {
                    continue;
                }
            }
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let (shared, queue, resolver) = (
                Arc::clone(&shared),
                Arc::clone(&queue),
                Arc::clone(&resolver),
            );
            tokio::spawn(async move {
                let id = entry.id.clone();
                attempt(&shared, &queue, &resolver, entry).await;
                queue
                    .in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                drop(permit);
            });
        }
    }
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_lowercase())
        .unwrap_or_default()
}

async fn attempt(shared: &Shared, queue: &Queue, resolver: &TokioResolver, mut entry: Entry) {
    let message = match queue.store.message(&entry.id) {
        Ok(m) => m,
        Err(e) => {
            warn!(queue_id = %entry.id, error = %e, "queued message file unreadable");
            return;
        }
    };
    let since = waited(&entry);
    let mut by_domain: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in entry.pending() {
        by_domain
            .entry(domain_of(&r.address))
            .or_default()
            .push(r.address.clone());
    }
    let mut errors = Vec::new();
    for (domain, rcpts) in by_domain {
        // Local recipients whose delivery failed at DATA time (disk, quota)
        // are retried here, never handed to the network.
        if let Ok(Some(_)) = shared.auth.store().canonical_domain(&domain) {
            for address in &rcpts {
                let result = deliver_locally(shared, address, &message);
                let Some(r) = entry.recipients.iter_mut().find(|r| &r.address == address) else {
                    continue;
                };
                match result {
                    RcptResult::Delivered => {
                        r.status = RcptStatus::Delivered;
                        stats::delivered(Via::Local, 1, since);
                    }
                    RcptResult::Permanent(why) => {
                        r.status = RcptStatus::Failed(why);
                        stats::bounced(1);
                    }
                    RcptResult::Temporary(why) => {
                        errors.push(why);
                        stats::deferred(1);
                    }
                }
            }
            continue;
        }
        let slots = {
            let mut map = queue.per_domain.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                map.entry(domain.clone())
                    .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PER_DOMAIN))),
            )
        };
        let Ok(_turn) = slots.acquire().await else {
            return;
        };
        let results = outbound::deliver(
            &queue.outbound,
            resolver,
            &domain,
            &entry.sender,
            &rcpts,
            &message,
        )
        .await;
        for (address, result) in rcpts.iter().zip(results) {
            let Some(r) = entry.recipients.iter_mut().find(|r| &r.address == address) else {
                continue;
            };
            match result {
                RcptResult::Delivered => {
                    r.status = RcptStatus::Delivered;
                    info!(queue_id = %entry.id, rcpt = %address, "delivered");
                    stats::delivered(Via::Remote, 1, since);
                }
                RcptResult::Permanent(why) => {
                    info!(queue_id = %entry.id, rcpt = %address, reason = %why, "bounced");
                    r.status = RcptStatus::Failed(why);
                    stats::bounced(1);
                }
                RcptResult::Temporary(why) => {
                    info!(queue_id = %entry.id, rcpt = %address, reason = %why, "deferred");
                    errors.push(why);
                    stats::deferred(1);
                }
            }
        }
    }
    entry.attempts += 1;
    if let Some(why) = errors.last() {
        entry.last_error = Some(why.clone());
    }
    let age = Duration::from_secs((now() - entry.created).max(0) as u64);
    if entry.pending().next().is_some() && age >= queue.schedule.max_age {
        let why = format!(
            "gave up after {} attempts in {} days: {}",
            entry.attempts,
            age.as_secs() / 86400,
            entry.last_error.clone().unwrap_or_default()
        );
        for r in entry
            .recipients
            .iter_mut()
            .filter(|r| r.status == RcptStatus::Pending)
        {
            r.status = RcptStatus::Failed(why.clone());
            stats::bounced(1);
        }
    }
    // DSN NOTIFY (RFC 3461 §4.1): by default failures are reported;
    // NOTIFY=NEVER or a list without FAILURE silences them.
    let wants = |notify: u64, flag: u64| notify == 0 || notify & flag != 0;
    let failed: Vec<(String, String)> = entry
        .recipients
        .iter()
        .filter(|r| wants(r.notify, smtp_proto::RCPT_NOTIFY_FAILURE))
        .filter_map(|r| match &r.status {
            RcptStatus::Failed(why) => Some((r.address.clone(), why.clone())),
            _ => None,
        })
        .collect();
    if entry.pending().next().is_none() {
        if !failed.is_empty() {
            notify_sender(shared, queue, &entry, &Notice::Failed(&failed), &message);
        }
        if let Err(e) = queue.store.remove(&entry.id) {
            warn!(queue_id = %entry.id, error = %e, "cannot remove a finished queue entry");
        }
        return;
    }
    let wait = queue.schedule.retry
        [(entry.attempts as usize - 1).min(queue.schedule.retry.len().saturating_sub(1))];
    entry.next_try = now() + wait.as_secs() as i64;
    if !entry.delay_notified && age >= queue.schedule.delay_notice {
        let waiting: Vec<(String, String)> = entry
            .pending()
            .filter(|r| wants(r.notify, smtp_proto::RCPT_NOTIFY_DELAY))
            .map(|r| {
                (
                    r.address.clone(),
                    entry.last_error.clone().unwrap_or_default(),
                )
            })
            .collect();
        if !waiting.is_empty() {
            notify_sender(shared, queue, &entry, &Notice::Delayed(&waiting), &message);
        }
        entry.delay_notified = true;
    }
    if let Err(e) = queue.store.save(&entry) {
        warn!(queue_id = %entry.id, error = %e, "cannot update a queue entry");
    }
}

/// How long a queued message has waited since it was received.
fn waited(entry: &Entry) -> Duration {
    Duration::from_secs((now() - entry.created).max(0) as u64)
}

/// Delivers a queued message to a local address (retry of a failed local delivery).
fn deliver_locally(shared: &Shared, address: &str, message: &[u8]) -> RcptResult {
    let resolved = match crate::recipients::resolve(shared.auth.store(), address) {
        Ok(r) => r,
        Err(e) => return RcptResult::Temporary(format!("account lookup failed: {e}")),
    };
    if resolved.accounts.is_empty() {
        return RcptResult::Permanent(format!("550 5.1.1 <{address}>: no such user here"));
    }
    for (_, result) in crate::deliver::to_maildirs(shared, &resolved.accounts, message) {
        match result {
            Ok(()) => {}
            Err(surel_maildir::Error::OverQuota { .. }) => {
                return RcptResult::Temporary("452 4.2.2 mailbox full".into());
            }
            Err(e) => return RcptResult::Temporary(format!("451 4.3.0 {e}")),
        }
    }
    RcptResult::Delivered
}

/// Sends a DSN to the sender: into their INBOX when local, through the
/// queue (with the null sender) otherwise. Never to the null sender.
fn notify_sender(
    shared: &Shared,
    queue: &Queue,
    entry: &Entry,
    notice: &Notice<'_>,
    original: &[u8],
) {
    if entry.sender.is_empty() {
        return;
    }
    let dsn = bounce::build(&shared.hostname, shared.language, entry, notice, original);
    let store = shared.auth.store();
    match crate::recipients::resolve(store, &entry.sender) {
        Ok(resolved) if !resolved.accounts.is_empty() => {
            for (address, result) in crate::deliver::to_maildirs(shared, &resolved.accounts, &dsn) {
                if let Err(e) = result {
                    warn!(queue_id = %entry.id, to = %address, error = %e, "cannot deliver a delivery notice");
                }
            }
        }
        _ => {
            if let Err(e) = queue
                .store
                .enqueue("", &[(entry.sender.clone(), 0)], &dsn, true)
            {
                warn!(queue_id = %entry.id, error = %e, "cannot queue a delivery notice");
            }
        }
    }
}
