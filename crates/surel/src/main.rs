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
// glibc malloc spent a third of a big FETCH in malloc/free; mimalloc's
// per-thread free lists cut that, and it returns memory to the OS promptly.
// Its `override` feature makes it C's malloc too, so SQLite's allocations
// are in it as well: in glibc's malloc they stayed resident after a busy
// spell, 20 MiB over 16 arenas of which 0.25 MiB was in use, as glibc
// gives back only the top of each arena and only when a large block there
// is freed (`malloc_trim` would, but only through unsafe FFI).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
