//! `surel queue list|retry|drop` (SPEC §5), like `postqueue -p`/`-f` and
//! `postsuper -d`. The running server notices changes within a second.

use std::path::Path;

use clap::Subcommand;
use serde::Serialize;
use surel_smtp::queue::{QueueStore, RcptStatus, now};

use super::admin::{print_json, print_table};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Queued messages: id, sender, recipients, age, attempts, last error, next try
    List {
        #[arg(long)]
        json: bool,
    },
    /// Try a message again now (or every message with --all)
    Retry {
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Remove a message from the queue without delivering or bouncing it
    Drop { id: String },
}

#[derive(Serialize)]
struct Row {
    id: String,
    sender: String,
    recipients: Vec<String>,
    age_seconds: i64,
    attempts: u32,
    last_error: Option<String>,
    next_try_in_seconds: i64,
    size: u64,
}

fn age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

pub fn run(config_path: &Path, command: QueueCommand) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let store = QueueStore::open(&config.data_dir)?;
    match command {
        QueueCommand::List { json } => {
            let now = now();
            let rows: Vec<Row> = store
                .list()?
                .into_iter()
                .map(|e| Row {
                    recipients: e
                        .recipients
                        .iter()
                        .filter(|r| r.status == RcptStatus::Pending)
                        .map(|r| r.address.clone())
                        .collect(),
                    age_seconds: now - e.created,
                    next_try_in_seconds: (e.next_try - now).max(0),
                    id: e.id,
                    sender: if e.sender.is_empty() {
                        "<>".into()
                    } else {
                        e.sender
                    },
                    attempts: e.attempts,
                    last_error: e.last_error,
                    size: e.size,
                })
                .collect();
            if json {
                return print_json(&rows);
            }
            if rows.is_empty() {
                println!("the queue is empty");
                return Ok(());
            }
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone(),
                        r.sender.clone(),
                        r.recipients.join(", "),
                        age(r.age_seconds),
                        r.attempts.to_string(),
                        if r.next_try_in_seconds == 0 {
                            "now".into()
                        } else {
                            format!("in {}", age(r.next_try_in_seconds))
                        },
                        r.last_error.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            print_table(
                &[
                    "ID",
                    "SENDER",
                    "RECIPIENTS",
                    "AGE",
                    "ATTEMPTS",
                    "NEXT TRY",
                    "LAST ERROR",
                ],
                &table,
            );
            Ok(())
        }
        QueueCommand::Retry { id, all } => {
            let ids: Vec<String> = match (id, all) {
                (Some(id), false) => vec![id],
                (None, true) => store.list()?.into_iter().map(|e| e.id).collect(),
                _ => anyhow::bail!("name one message ID (see `surel queue list`) or use --all"),
            };
            for id in &ids {
                store.retry_now(id).map_err(|e| {
                    anyhow::anyhow!("no queued message {id} ({e}): see `surel queue list`")
                })?;
            }
            eprintln!("{} message(s) will be tried again now", ids.len());
            Ok(())
        }
        QueueCommand::Drop { id } => {
            store.remove(&id).map_err(|e| {
                anyhow::anyhow!("no queued message {id} ({e}): see `surel queue list`")
            })?;
            tracing::info!(target: "audit", queue_id = %id, "queued message dropped by the admin");
            eprintln!("{id}: dropped");
            Ok(())
        }
    }
}
