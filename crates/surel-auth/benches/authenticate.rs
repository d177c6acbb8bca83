//! Throughput of `Authenticator::authenticate`, printed, never asserted:
//! cold (every login pays argon2id at the configured cost) and warm (the
//! same login and password again, answered by the login cache).
//!
//! Run: `cargo bench -p surel-auth --bench authenticate [-- SECONDS]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use surel_auth::store::NewAccount;
use surel_auth::*;

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    let budget = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    let config = AuthConfig::default();
    let policy = Policy::new(PolicyConfig::default()).unwrap();
    let cold_auth = Authenticator::new(
        Arc::clone(&store),
        policy.clone(),
        AuthConfig {
            cache_ttl: policy::config::HumanDuration(Duration::ZERO),
            ..config
        },
    )
    .unwrap();
    let warm_auth = Authenticator::new(Arc::clone(&store), policy, config).unwrap();
    let now = cold_auth.now();
    store.add_domain("example.go.id", None, None, now).unwrap();
    store
        .add_account(
            &NewAccount {
                local: "budi".into(),
                domain: "example.go.id".into(),
                display_name: String::new(),
                password_hash: cold_auth.hasher().hash("Hujan-Sore-77"),
                state: StoredState::Active,
                password_changed_at: now,
                quota_bytes: None,
            },
            now,
        )
        .unwrap();

    println!(
        "argon2id m={} KiB t={} p={}; {} s per measurement; {} cores",
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
        seconds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for threads in [1, 2] {
        let cold = measure(
            &cold_auth,
            budget,
            threads,
            "budi@example.go.id",
            "Hujan-Sore-77",
        );
        let warm = measure(
            &warm_auth,
            budget,
            threads,
            "budi@example.go.id",
            "Hujan-Sore-77",
        );
        let wrong = measure(&cold_auth, budget, threads, "nobody@example.go.id", "wrong");
        println!(
            "threads={threads}: cold {cold:>9.1} logins/s   warm (cache) {warm:>9.1} logins/s   unknown user {wrong:>7.1}/s   warm/cold = {:.0}x",
            warm / cold
        );
    }
}

fn measure(
    auth: &Authenticator,
    budget: Duration,
    threads: usize,
    login: &str,
    password: &str,
) -> f64 {
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while started.elapsed() < budget {
                        let result = auth.authenticate(login, password, Service::Imap, None);
                        std::hint::black_box(result);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}
