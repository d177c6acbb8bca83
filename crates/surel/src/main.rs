//! The `surel` binary owns the config, TLS, start-up and shutdown, and the
//! admin CLI (SPEC §5). It wires the protocol crates to the listeners; it
//! must not implement protocols or storage itself.

mod cli;
mod memory;
mod serve;
mod tls;

// The config and logging live in the library target (src/lib.rs) so the
// fuzz targets can reach the parser; `crate::config` still names them here.
use surel::{config, logging};

use std::process::ExitCode;

use clap::Parser;

// Many short-lived allocations per IMAP response (imap-codec's types):
// glibc malloc spent a third of a big FETCH in malloc/free. jemalloc's
// thread caches cut that, and its background thread gives freed memory
// back to the system on its own, after a busy spell too. It is C's malloc
// as well, so SQLite's allocations are in it: in glibc's malloc they
// stayed resident, 20 MiB over 16 arenas of which 0.25 MiB was in use.
// mimalloc (used before) keeps memory per thread: IMAP's storage calls
// pass through many short-lived threads (`block_in_place`), each leaving
// pages held by a few long-lived blocks, 17-19 MiB after the benchmark's
// workloads against jemalloc's 14 (docs/benchmarks.md). Settings: the
// JEMALLOC_SYS_WITH_MALLOC_CONF line in .cargo/config.toml.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line on stderr saying what went wrong and what to do.
            let text = format!("{e:#}").replace('\n', " ");
            eprintln!("surel: {text}");
            ExitCode::FAILURE
        }
    }
}
