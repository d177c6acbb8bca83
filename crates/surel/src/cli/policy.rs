//! `surel policy show|expiry` (SPEC §3, §5): the policy in force, and when
//! a password changed on a given day expires.

use std::path::Path;

use clap::Subcommand;
use serde::Serialize;

use super::admin::print_json;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// The effective policy, defaults included
    Show {
        #[arg(long)]
        json: bool,
    },
    /// The last day a password changed on DATE (YYYY-MM-DD) is valid
    Expiry {
        date: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct PolicyView {
    max_age: String,
    warn_before: String,
    disable_after: String,
    timezone: String,
    holidays: Vec<String>,
    min_length: usize,
    require_classes: u8,
    reject_contains_username: bool,
    history: usize,
    lockout_threshold: u32,
    lockout_window: String,
    lockout_duration: String,
    language: &'static str,
}

#[derive(Serialize)]
struct ExpiryView {
    changed_on: String,
    last_valid_day: String,
    expires_at: String,
    last_change_day: String,
    disabled_at: String,
}

pub fn run(config_path: &Path, command: PolicyCommand) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let policy = config.build_policy(config_path)?;
    let tz = policy.calendar.timezone.clone();
    match command {
        PolicyCommand::Show { json } => {
            let c = &policy.config;
            let view = PolicyView {
                max_age: c.max_age.to_string(),
                warn_before: c.warn_before.to_string(),
                disable_after: c.disable_after.to_string(),
                timezone: tz.iana_name().unwrap_or("UTC+07:00").to_string(),
                holidays: policy
                    .calendar
                    .holidays
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                min_length: c.min_length,
                require_classes: c.require_classes,
                reject_contains_username: c.reject_contains_username,
                history: c.history,
                lockout_threshold: c.lockout_threshold,
                lockout_window: humantime::format_duration(c.lockout_window.0).to_string(),
                lockout_duration: humantime::format_duration(c.lockout_duration.0).to_string(),
                language: match config.language {
                    surel_auth::Language::Id => "id",
                    surel_auth::Language::En => "en",
                },
            };
            if json {
                return print_json(&view);
            }
            println!("max_age                  = {}", view.max_age);
            println!("warn_before              = {}", view.warn_before);
            println!("disable_after            = {}", view.disable_after);
            println!("timezone                 = {}", view.timezone);
            println!(
                "holidays                 = {} days ({})",
                view.holidays.len(),
                view.holidays.join(", ")
            );
            println!("min_length               = {}", view.min_length);
            println!(
                "require_classes          = {} of upper, lower, digit, symbol",
                view.require_classes
            );
            println!(
                "reject_contains_username = {}",
                view.reject_contains_username
            );
            println!("history                  = {}", view.history);
            println!("lockout_threshold        = {}", view.lockout_threshold);
            println!("lockout_window           = {}", view.lockout_window);
            println!("lockout_duration         = {}", view.lockout_duration);
            println!("language                 = {}", view.language);
            Ok(())
        }
        PolicyCommand::Expiry { date, json } => {
            let day: jiff::civil::Date = date
                .parse()
                .map_err(|_| anyhow::anyhow!("{date:?} is not a date: write YYYY-MM-DD"))?;
            // A change at noon office time on that day.
            let noon = policy
                .calendar
                .start_of(day)
                .checked_add(jiff::SignedDuration::from_hours(12))?;
            let e = policy.expiry(noon);
            let fmt = |t: jiff::Timestamp| {
                t.to_zoned(tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            };
            let view = ExpiryView {
                changed_on: day.to_string(),
                last_valid_day: e.last_valid_day.to_string(),
                expires_at: fmt(e.expires_at),
                last_change_day: e.last_change_day.to_string(),
                disabled_at: fmt(e.disabled_at),
            };
            if json {
                return print_json(&view);
            }
            println!("{}", view.last_valid_day);
            Ok(())
        }
    }
}
