//! `Authenticator` end to end over a real SQLite file: login names, every
//! state of SPEC §3, lockout, throttle, history, cache, legacy hashes.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::date;
use surel_auth::policy::config::HumanDuration;
use surel_auth::store::NewAccount;
use surel_auth::*;

struct World {
    auth: Authenticator,
    clock: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
}

const ISSUED: &str = "Issued-Pass-42";
const CHOSEN: &str = "Hujan-Sore-77";

fn at(s: &str) -> i64 {
    s.parse::<Timestamp>().unwrap().as_second()
}

fn world_with(config: AuthConfig) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in(dir.path()).unwrap());
    let clock = Arc::new(AtomicI64::new(at("2026-01-05T02:00:00Z"))); // Monday 09:00 WIB
    let c = Arc::clone(&clock);
    let policy = Policy::new(PolicyConfig {
        holidays: vec![date(2026, 1, 1)],
        ..PolicyConfig::default()
    })
    .unwrap();
    let auth = Authenticator::new(Arc::clone(&store), policy, config)
        .unwrap()
        .with_clock(move || Timestamp::from_second(c.load(Ordering::SeqCst)).unwrap());
    let now = auth.now();
    store
        .add_domain("kemenkeu.go.id", Some("kemenkeu"), None, now)
        .unwrap();
    store
        .add_domain("mail.kemenkeu.go.id", None, Some("kemenkeu.go.id"), now)
        .unwrap();
    store
        .add_account(
            &NewAccount {
                local: "budi".into(),
                domain: "kemenkeu.go.id".into(),
                display_name: "Budi Santoso".into(),
                password_hash: auth.hasher().hash(ISSUED),
                state: StoredState::MustChange,
                password_changed_at: now,
                quota_bytes: None,
            },
            now,
        )
        .unwrap();
    World {
        auth,
        clock,
        _dir: dir,
    }
}

fn cheap() -> AuthConfig {
    AuthConfig {
        argon2_memory_kib: 1024,
        argon2_iterations: 1,
        failure_delay: HumanDuration(Duration::ZERO),
        ..AuthConfig::default()
    }
}

fn world() -> World {
    world_with(cheap())
}

impl World {
    fn login(&self, login: &str, password: &str) -> Outcome {
        self.auth
            .authenticate(login, password, Service::Imap, None)
            .outcome
    }

    fn login_from(&self, ip: &str, login: &str, password: &str) -> AuthResult {
        let ip: IpAddr = ip.parse().unwrap();
        self.auth
            .authenticate(login, password, Service::Smtp, Some(ip))
    }

    fn advance(&self, by: Duration) {
        self.clock.fetch_add(by.as_secs() as i64, Ordering::SeqCst);
    }

    fn set(&self, when: &str) {
        self.clock.store(at(when), Ordering::SeqCst);
    }

    fn activate(&self) {
        self.auth
            .change_password("budi@kemenkeu.go.id", ISSUED, CHOSEN, None)
            .unwrap();
    }
}

#[test]
fn a_new_account_must_change_its_issued_password() {
    let w = world();
    assert!(matches!(
        w.login("budi@kemenkeu.go.id", ISSUED),
        Outcome::MustChange { .. }
    ));
    let changed = w
        .auth
        .change_password("budi@kemenkeu.go.id", ISSUED, CHOSEN, None)
        .unwrap();
    // Changed Monday 2026-01-05: 90 working days later (no holiday in between in this policy).
    assert_eq!(changed.last_valid_day, date(2026, 5, 11));
    match w.login("budi@kemenkeu.go.id", CHOSEN) {
        Outcome::Success { account, warning } => {
            assert_eq!(account.address, "budi@kemenkeu.go.id");
            assert_eq!(warning, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.login("budi@kemenkeu.go.id", ISSUED),
        Outcome::BadCredentials
    );
}

#[test]
fn every_login_name_form_reaches_the_account() {
    let w = world();
    w.activate();
    for name in [
        "budi@kemenkeu.go.id",
        "BUDI@Kemenkeu.Go.Id",
        "kemenkeu\\budi",
        "KEMENKEU\\Budi",
        "budi",
        "budi@mail.kemenkeu.go.id",
    ] {
        assert!(
            matches!(w.login(name, CHOSEN), Outcome::Success { .. }),
            "{name}"
        );
    }
    for name in [
        "budi@other.go.id",
        "other\\budi",
        "",
        "siti",
        "@kemenkeu.go.id",
        "a b",
    ] {
        assert_eq!(w.login(name, CHOSEN), Outcome::BadCredentials, "{name:?}");
    }
}

#[test]
fn unknown_users_and_wrong_passwords_look_the_same() {
    let w = world_with(AuthConfig::default()); // real OWASP cost, for the timing
    w.activate();
    let time = |login: &str| {
        let started = std::time::Instant::now();
        let outcome = w.login(login, "Wrong-Pass-1");
        (outcome, started.elapsed())
    };
    let (unknown, t_unknown) = time("nobody@kemenkeu.go.id");
    let (wrong, t_wrong) = time("budi@kemenkeu.go.id");
    assert_eq!(unknown, Outcome::BadCredentials);
    assert_eq!(wrong, Outcome::BadCredentials);
    let en = |o: &Outcome| w.auth.message(o, Language::En, "https://x");
    assert_eq!(en(&unknown), en(&wrong));
    // Both pay one argon2 verification (tens of milliseconds), not a lookup.
    assert!(t_unknown > Duration::from_millis(5), "{t_unknown:?}");
    assert!(t_wrong > Duration::from_millis(5), "{t_wrong:?}");
}

#[test]
fn passwords_expire_warn_and_finally_disable() {
    let w = world();
    w.activate();
    // 2026-04-28 is the 10th working day before the last valid day 2026-05-11.
    w.set("2026-04-28T02:00:00Z");
    match w.login("budi", CHOSEN) {
        Outcome::Success {
            warning: Some(warning),
            account,
        } => {
            assert_eq!(warning.days_left, 10);
            assert_eq!(warning.last_valid_day, date(2026, 5, 11));
            assert!(
                w.auth.take_daily_alert(&account),
                "first login of the day alerts"
            );
            assert!(!w.auth.take_daily_alert(&account), "only once a day");
            w.advance(Duration::from_secs(24 * 3600));
            assert!(w.auth.take_daily_alert(&account), "again the next day");
        }
        other => panic!("{other:?}"),
    }
    // 00:00 WIB on 2026-05-12 = 17:00 UTC on the 11th.
    w.set("2026-05-11T16:59:59Z");
    assert!(matches!(
        w.login("budi", CHOSEN),
        Outcome::Success {
            warning: Some(_),
            ..
        }
    ));
    w.set("2026-05-11T17:00:00Z");
    assert!(matches!(w.login("budi", CHOSEN), Outcome::Expired { .. }));
    // Still changeable within disable_after (30 days) ...
    w.set("2026-06-10T02:00:00Z");
    let text = w.auth.message(
        &w.login("budi", CHOSEN),
        Language::Id,
        "https://mail/password",
    );
    assert!(
        text.contains("https://mail/password") && text.contains("kedaluwarsa"),
        "{text}"
    );
    // ... but not after: the account is disabled, and stays so.
    w.set("2026-06-11T17:00:00Z");
    assert!(matches!(w.login("budi", CHOSEN), Outcome::Disabled { .. }));
    assert_eq!(
        w.auth
            .change_password("budi", CHOSEN, "Another-Pass-9", None),
        Err(ChangeError::NotAllowed)
    );
    let stored = w
        .auth
        .store()
        .account("budi", "kemenkeu.go.id")
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, StoredState::Disabled);
}

#[test]
fn an_expired_password_can_be_changed_with_the_old_one() {
    let w = world();
    w.activate();
    w.set("2026-05-20T02:00:00Z");
    assert!(matches!(w.login("budi", CHOSEN), Outcome::Expired { .. }));
    let changed = w
        .auth
        .change_password("budi", CHOSEN, "Another-Pass-9", None)
        .unwrap();
    assert!(changed.last_valid_day > date(2026, 9, 1));
    assert!(matches!(
        w.login("budi", "Another-Pass-9"),
        Outcome::Success { .. }
    ));
}

#[test]
fn the_sweep_disables_long_expired_accounts() {
    let w = world();
    w.activate();
    assert!(w.auth.sweep().unwrap().is_empty());
    w.set("2026-07-01T00:00:00Z");
    assert_eq!(
        w.auth.sweep().unwrap(),
        vec!["budi@kemenkeu.go.id".to_string()]
    );
    assert!(w.auth.sweep().unwrap().is_empty());
}

#[test]
fn five_different_wrong_passwords_lock_the_account_for_a_while() {
    let w = world();
    w.activate();
    for i in 0..4 {
        assert_eq!(
            w.login("budi", &format!("wrong-{i}")),
            Outcome::BadCredentials
        );
    }
    assert_eq!(w.login("budi", "wrong-4"), Outcome::BadCredentials);
    // Locked now: even the right password is refused, and the reply does
    // not reveal it was right (no cache entry: it was never used).
    assert_eq!(w.login("budi", CHOSEN), Outcome::Locked { until: None });
    let text = w
        .auth
        .message(&Outcome::Locked { until: None }, Language::En, "u");
    assert_eq!(
        text,
        w.auth.message(&Outcome::BadCredentials, Language::En, "u")
    );
    w.advance(Duration::from_secs(15 * 60 + 1));
    assert!(matches!(w.login("budi", CHOSEN), Outcome::Success { .. }));
    let stored = w
        .auth
        .store()
        .account("budi", "kemenkeu.go.id")
        .unwrap()
        .unwrap();
    assert_eq!(stored.failed_logins, 0, "a success resets the counter");
}

#[test]
fn a_client_known_right_learns_when_the_lock_ends() {
    let w = world();
    w.activate();
    assert!(matches!(w.login("budi", CHOSEN), Outcome::Success { .. }));
    for i in 0..5 {
        w.login("budi", &format!("guess-{i}"));
    }
    let expected = w
        .auth
        .now()
        .checked_add(jiff::SignedDuration::from_mins(15))
        .unwrap();
    assert_eq!(
        w.login("budi", CHOSEN),
        Outcome::Locked {
            until: Some(expected)
        }
    );
    let text = w.auth.message(
        &Outcome::Locked {
            until: Some(expected),
        },
        Language::En,
        "u",
    );
    assert!(
        text.contains("Try again after 2026-01-05 09:15 WIB"),
        "{text}"
    );
    assert_eq!(w.login("budi", "guess-9"), Outcome::Locked { until: None });
}

#[test]
fn a_phone_retrying_an_old_password_does_not_lock_its_owner_out() {
    let w = world();
    w.activate();
    for _ in 0..20 {
        assert_eq!(w.login("budi", "Old-Password-1"), Outcome::BadCredentials);
    }
    assert!(matches!(w.login("budi", CHOSEN), Outcome::Success { .. }));
}

#[test]
fn failures_outside_the_window_do_not_add_up() {
    let w = world();
    w.activate();
    for i in 0..4 {
        w.login("budi", &format!("wrong-{i}"));
    }
    w.advance(Duration::from_secs(16 * 60));
    w.login("budi", "wrong-x");
    assert!(matches!(w.login("budi", CHOSEN), Outcome::Success { .. }));
}

/// Failures (unknown user and wrong password alike) are answered no
/// sooner than `failure_delay` after they arrived; successes at once.
#[test]
fn failed_logins_are_answered_after_the_failure_delay() {
    let w = world_with(AuthConfig {
        failure_delay: HumanDuration(Duration::from_millis(300)),
        ..cheap()
    });
    w.activate();
    for login in ["budi", "nobody@kemenkeu.go.id"] {
        let started = std::time::Instant::now();
        let r = w.login_from("192.0.2.1", login, "Bukan-Ini-1");
        assert_eq!(r.outcome, Outcome::BadCredentials);
        let total = started.elapsed() + r.delay;
        assert!(total >= Duration::from_millis(300), "{login}: {total:?}");
        assert!(total < Duration::from_millis(600), "{login}: {total:?}");
    }
    let ok = w.login_from("192.0.2.1", "budi", CHOSEN);
    assert!(matches!(ok.outcome, Outcome::Success { .. }));
    assert_eq!(ok.delay, Duration::ZERO);
}

#[test]
fn an_address_with_many_failures_is_slowed_then_refused() {
    let w = world_with(AuthConfig {
        ip_slowdown_after: 3,
        ip_refuse_after: 6,
        ip_window: HumanDuration(Duration::from_secs(600)),
        ..cheap()
    });
    w.activate();
    let nat = "203.0.113.9";
    let mut delays = Vec::new();
    for i in 0..6 {
        let r = w.login_from(nat, &format!("user{i}@kemenkeu.go.id"), "x");
        assert_eq!(r.outcome, Outcome::BadCredentials);
        delays.push(r.delay);
    }
    assert_eq!(&delays[..3], &[Duration::ZERO; 3]);
    assert!(
        delays[3] > Duration::ZERO && delays[5] > delays[3],
        "{delays:?}"
    );
    assert_eq!(
        w.login_from(nat, "budi", CHOSEN).outcome,
        Outcome::Throttled
    );
    assert!(matches!(
        w.login_from("203.0.113.10", "budi", CHOSEN).outcome,
        Outcome::Success { .. }
    ));
    w.advance(Duration::from_secs(601));
    assert!(matches!(
        w.login_from(nat, "budi", CHOSEN).outcome,
        Outcome::Success { .. }
    ));
}

#[test]
fn new_passwords_must_meet_the_rules_and_the_history() {
    let w = world();
    let refused =
        |current: &str, new: &str| match w.auth.change_password("budi", current, new, None) {
            Err(ChangeError::Rules(v)) => v,
            other => panic!("{other:?}"),
        };
    assert_eq!(
        refused(ISSUED, "short1A"),
        vec![Violation::TooShort { min: 8 }]
    );
    assert_eq!(
        refused(ISSUED, "Budi-2026-xyz"),
        vec![Violation::ContainsUsername]
    );
    assert_eq!(
        refused(ISSUED, ISSUED),
        vec![Violation::Reused { history: 4 }]
    );
    assert_eq!(
        w.auth.change_password("budi", "wrong", CHOSEN, None),
        Err(ChangeError::BadCredentials)
    );
    let passwords = [
        "First-Pass-1",
        "Second-Pass-2",
        "Third-Pass-3",
        "Fourth-Pass-4",
        "Fifth-Pass-5",
    ];
    let mut current = ISSUED.to_string();
    for p in passwords {
        w.auth.change_password("budi", &current, p, None).unwrap();
        current = p.to_string();
    }
    // The current one and the four before it are refused; the issued one is old enough.
    for old in &passwords[..] {
        assert_eq!(
            refused(&current, old),
            vec![Violation::Reused { history: 4 }],
            "{old}"
        );
    }
    w.auth
        .change_password("budi", &current, ISSUED, None)
        .unwrap();
}

#[test]
fn a_service_desk_reset_forces_a_change_and_drops_the_cache() {
    let w = world();
    w.activate();
    assert!(matches!(w.login("budi", CHOSEN), Outcome::Success { .. }));
    let account = w
        .auth
        .store()
        .account("budi", "kemenkeu.go.id")
        .unwrap()
        .unwrap();
    w.auth.issue_password(&account, "Reset-Pass-55").unwrap();
    assert_eq!(
        w.login("budi", CHOSEN),
        Outcome::BadCredentials,
        "no stale cache entry"
    );
    assert!(matches!(
        w.login("budi", "Reset-Pass-55"),
        Outcome::MustChange { .. }
    ));
}

#[test]
fn imported_legacy_hashes_are_rehashed_at_login() {
    let w = world();
    let params = sha_crypt::Sha512Params::new(5000).unwrap();
    let legacy = format!(
        "{{SHA512-CRYPT}}{}",
        sha_crypt::sha512_simple("Zimbra-Pass-1", &params).unwrap()
    );
    let store = w.auth.store();
    let now = w.auth.now();
    store
        .import_accounts(
            &[NewAccount {
                local: "siti".into(),
                domain: "kemenkeu.go.id".into(),
                display_name: "Siti".into(),
                password_hash: legacy.clone(),
                state: StoredState::Active,
                password_changed_at: now,
                quota_bytes: None,
            }],
            now,
        )
        .unwrap();
    assert!(matches!(
        w.login("siti@kemenkeu.go.id", "Zimbra-Pass-1"),
        Outcome::Success { .. }
    ));
    let stored = store.account("siti", "kemenkeu.go.id").unwrap().unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$"),
        "{}",
        stored.password_hash
    );
    assert!(matches!(
        w.login("siti@kemenkeu.go.id", "Zimbra-Pass-1"),
        Outcome::Success { .. }
    ));
}

#[test]
fn disabled_accounts_are_told_to_contact_the_service_desk() {
    let w = world();
    w.activate();
    let account = w
        .auth
        .store()
        .account("budi", "kemenkeu.go.id")
        .unwrap()
        .unwrap();
    w.auth
        .store()
        .set_state(account.id, StoredState::Disabled, Some("admin"))
        .unwrap();
    let outcome = w.login("budi", CHOSEN);
    assert!(matches!(outcome, Outcome::Disabled { .. }));
    assert!(
        w.auth
            .message(&outcome, Language::Id, "u")
            .contains("Service Desk")
    );
    assert_eq!(w.login("budi", "wrong"), Outcome::BadCredentials);
}

/// Moves the clock to 09:00 WIB on the first day with at most `left`
/// working days before expiry.
fn advance_to_days_left(w: &World, left: u32) {
    let policy = w.auth.policy();
    loop {
        let account = w
            .auth
            .store()
            .account("budi", "kemenkeu.go.id")
            .unwrap()
            .unwrap();
        let expiry = policy.expiry(account.password_changed_at);
        let today = policy.calendar.date_of(w.auth.now());
        let now_left =
            policy
                .calendar
                .days_left(today, expiry.last_valid_day, Period::WorkingDays(0));
        if now_left <= left {
            return;
        }
        w.advance(Duration::from_secs(24 * 3600));
    }
}

#[test]
fn expiry_notices_are_due_at_10_5_and_1_working_days_each_once() {
    let w = world();
    assert!(
        w.auth.due_notices().unwrap().is_empty(),
        "must_change gets none"
    );
    w.activate();
    assert!(
        w.auth.due_notices().unwrap().is_empty(),
        "a fresh password gets none"
    );
    for mark in [10, 5, 1] {
        advance_to_days_left(&w, mark);
        let due = w.auth.due_notices().unwrap();
        assert_eq!(due.len(), 1, "{mark}: {due:?}");
        assert_eq!(due[0].days_before, mark);
        assert_eq!(due[0].days_left, mark);
        w.auth.notice_delivered(&due[0]).unwrap();
        assert!(
            w.auth.due_notices().unwrap().is_empty(),
            "{mark} sent twice"
        );
    }
    // Expired: no more notices (the login replies take over).
    w.advance(Duration::from_secs(4 * 24 * 3600));
    assert!(w.auth.due_notices().unwrap().is_empty());
}

#[test]
fn a_daemon_that_was_down_sends_only_the_current_mark_and_a_new_password_starts_afresh() {
    let w = world();
    w.activate();
    advance_to_days_left(&w, 3);
    let due = w.auth.due_notices().unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].days_before, 5, "the 10-day notice is stale");
    w.auth.notice_delivered(&due[0]).unwrap();
    w.auth
        .change_password("budi", CHOSEN, "Mendung-Pagi-88", None)
        .unwrap();
    advance_to_days_left(&w, 10);
    assert_eq!(w.auth.due_notices().unwrap()[0].days_before, 10);
}

#[test]
fn wrong_current_passwords_on_a_change_count_towards_the_lock() {
    let w = world();
    for i in 0..3 {
        assert!(
            w.auth
                .change_password("budi@kemenkeu.go.id", &format!("wrong-{i}"), CHOSEN, None)
                .is_err()
        );
    }
    let stored = w
        .auth
        .store()
        .account("budi", "kemenkeu.go.id")
        .unwrap()
        .unwrap();
    assert_eq!(stored.failed_logins, 3);
}
