//! surel-bench: a load tool that speaks IMAP and SMTP to any server on
//! loopback (surel, Dovecot, Postfix alike) and prints one line of figures
//! per workload, `NAME LABEL key=value …`. `tests/bench/run` drives it
//! against surel and the anchors side by side. It fails only when it
//! cannot run a workload, never because of a figure.

mod disk;
mod imap;
mod smtp;
mod startup;
mod stats;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "IMAP and SMTP load against servers on 127.0.0.1")]
struct Cli {
    /// Names the server in the output lines (e.g. surel, dovecot).
    #[arg(long, global = true, default_value = "server")]
    label: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Login {
    /// Plain IMAP port on 127.0.0.1 (LOGIN without TLS on loopback).
    #[arg(long)]
    port: u16,
    #[arg(long)]
    user: String,
    #[arg(long)]
    password: String,
}

#[derive(Subcommand)]
enum Command {
    /// Fsynced file creations in DIR, in the order of a maildir delivery
    /// and of a queue file (the disk's limit); LABEL names the machine.
    Disk {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 2000)]
        count: usize,
    },
    /// Messages over SMTP, one after another per connection.
    Smtp {
        #[arg(long)]
        port: u16,
        /// Another server measured in the same run, LABEL,PORT[,MAILDIR],
        /// in turns with the first (see --rounds).
        #[arg(long)]
        also: Vec<smtp::Target>,
        /// Rounds of MESSAGES/ROUNDS messages each, the servers taking
        /// turns (ABBA), so that the disk's slow spells fall on each alike.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        #[arg(long)]
        rcpt: String,
        #[arg(long, default_value_t = 1000)]
        messages: usize,
        #[arg(long, default_value_t = 1)]
        connections: usize,
        /// Message size in bytes.
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// The recipient's maildir: wait until every message is a file in it.
        #[arg(long)]
        maildir: Option<PathBuf>,
    },
    /// A Thunderbird-like session mix on C clients for S seconds.
    ImapMix {
        #[arg(long)]
        port: u16,
        /// Users, e.g. bench1@bench.test,bench2@bench.test; client N uses user N mod count.
        #[arg(long, value_delimiter = ',')]
        users: Vec<String>,
        #[arg(long)]
        password: String,
        #[arg(long, default_value_t = 1)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Fill MAILBOX up to N messages with pipelined APPEND, or with
    /// --maildir by writing the files into DIR/.MAILBOX/new/ and letting
    /// the server index them (on STATUS).
    ImapFill {
        #[command(flatten)]
        login: Login,
        #[arg(long)]
        mailbox: String,
        #[arg(long)]
        messages: usize,
        /// The user's maildir root as the server sees it.
        #[arg(long)]
        maildir: Option<std::path::PathBuf>,
    },
    /// FETCH 1:* (UID FLAGS ENVELOPE) of MAILBOX, RUNS times.
    ImapFetch {
        #[command(flatten)]
        login: Login,
        #[arg(long)]
        mailbox: String,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// SEARCH TEXT over MAILBOX, RUNS times.
    ImapSearch {
        #[command(flatten)]
        login: Login,
        #[arg(long)]
        mailbox: String,
        #[arg(long)]
        text: String,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Logins per second: each user's first (cold), then ROUNDS more (repeated).
    ImapLogins {
        #[arg(long)]
        port: u16,
        #[arg(long, value_delimiter = ',')]
        users: Vec<String>,
        #[arg(long)]
        password: String,
        #[arg(long, default_value_t = 4)]
        clients: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Milliseconds from STARTED_NS (nanoseconds since the Unix epoch, as
    /// `date +%s%N` prints them, taken just before the server was started)
    /// until PORT on 127.0.0.1 accepts.
    Startup {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        started_ns: u128,
    },
    /// Memory (PSS) now of the processes named NAMES, summed.
    Pss {
        #[arg(long, value_delimiter = ',')]
        process_names: Vec<String>,
    },
    /// Memory (PSS) of N idle IDLE sessions, summed over processes named NAMES.
    ImapIdle {
        #[command(flatten)]
        login: Login,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        #[arg(long, value_delimiter = ',')]
        process_names: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let label = cli.label;
    runtime.block_on(async move {
        match cli.command {
            Command::Disk { dir, count } => {
                let (maildir, queue_file) = disk::fsync_creations(&dir, count)?;
                for (variant, order) in [("maildir", maildir), ("queue-file", queue_file)] {
                    stats::report(
                        &format!("disk {label}:{variant}"),
                        &[
                            ("creations_per_s", order.creations_per_s),
                            ("p50_ms", order.latency.quantile_ms(0.5)),
                            ("p99_ms", order.latency.quantile_ms(0.99)),
                        ],
                    );
                }
                Ok(())
            }
            Command::Smtp {
                port,
                also,
                rounds,
                rcpt,
                messages,
                connections,
                size,
                maildir,
            } => {
                let first = smtp::Target {
                    label,
                    port,
                    maildir,
                };
                smtp::run(smtp::SmtpLoad {
                    targets: std::iter::once(first).chain(also).collect(),
                    rcpt,
                    messages,
                    connections,
                    size,
                    rounds,
                })
                .await
            }
            Command::ImapMix {
                port,
                users,
                password,
                clients,
                seconds,
            } => {
                imap::mix::run(imap::mix::Mix {
                    port,
                    users,
                    password,
                    clients,
                    seconds,
                    label,
                })
                .await
            }
            Command::ImapFill {
                login,
                mailbox,
                messages,
                maildir,
            } => {
                let f = folder(login, mailbox, label);
                match maildir {
                    Some(dir) => imap::bulk::fill_files(&f, messages, &dir).await,
                    None => imap::bulk::fill(&f, messages).await,
                }
            }
            Command::ImapFetch {
                login,
                mailbox,
                runs,
            } => imap::bulk::fetch_all(&folder(login, mailbox, label), runs).await,
            Command::ImapSearch {
                login,
                mailbox,
                text,
                runs,
            } => imap::bulk::search_text(&folder(login, mailbox, label), &text, runs).await,
            Command::ImapLogins {
                port,
                users,
                password,
                clients,
                rounds,
            } => imap::sessions::logins(port, users, password, clients, rounds, &label).await,
            Command::Startup { port, started_ns } => {
                let ms = tokio::task::spawn_blocking(move || {
                    startup::wait_for_port(port, started_ns, std::time::Duration::from_secs(30))
                })
                .await??;
                stats::report(&format!("startup {label}"), &[("ms", ms)]);
                Ok(())
            }
            Command::Pss { process_names } => {
                let kib = imap::sessions::pss_kib(&process_names);
                stats::report(&format!("memory {label}"), &[("pss_kib", kib as f64)]);
                Ok(())
            }
            Command::ImapIdle {
                login,
                connections,
                process_names,
            } => {
                imap::sessions::idle_memory(
                    login.port,
                    login.user,
                    login.password,
                    connections,
                    process_names,
                    &label,
                )
                .await
            }
        }
    })
}

fn folder(login: Login, mailbox: String, label: String) -> imap::bulk::Folder {
    imap::bulk::Folder {
        port: login.port,
        user: login.user,
        password: login.password,
        mailbox,
        label,
    }
}

/// 1,000 idle sessions need more descriptors than the usual soft limit.
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(max) = limit.maximum {
        limit.current = Some(max.min(65536));
        let _ = setrlimit(Resource::Nofile, limit);
    }
}
