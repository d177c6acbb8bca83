//! Every text a user reads about logins and passwords, in Indonesian and
//! English (SPEC §3: Indonesian by default). Protocols put these after
//! their reply codes; the web page shows them.

use crate::policy::config::Language;
use crate::policy::rules::Violation;

/// What to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    BadCredentials,
    /// `until` is given only when the password was known to be right.
    Locked {
        until: Option<&'a str>,
    },
    Throttled,
    MustChange {
        url: &'a str,
    },
    Expired {
        url: &'a str,
    },
    Disabled,
    Warning {
        days_left: u32,
        last_day: &'a str,
        url: &'a str,
    },
    Violation(&'a Violation),
    WrongCurrentPassword,
    /// A change was refused because the account may no longer change its password.
    ChangeNotAllowed,
    Changed {
        last_day: &'a str,
    },
}

pub fn text(language: Language, message: &Message<'_>) -> String {
    use Language::{En, Id};
    use Message::*;
    match (language, message) {
        (Id, BadCredentials) => "Nama pengguna atau kata sandi salah.".into(),
        (En, BadCredentials) => "Wrong user name or password.".into(),
        (Id, Locked { until: Some(t) }) => format!(
            "Akun dikunci sementara karena terlalu banyak percobaan login gagal. Coba lagi setelah {t}."
        ),
        (En, Locked { until: Some(t) }) => {
            format!(
                "The account is locked for now after too many failed logins. Try again after {t}."
            )
        }
        (Id, Locked { until: None }) => "Nama pengguna atau kata sandi salah.".into(),
        (En, Locked { until: None }) => "Wrong user name or password.".into(),
        (Id, Throttled) => {
            "Terlalu banyak percobaan login dari alamat Anda. Coba lagi beberapa menit lagi.".into()
        }
        (En, Throttled) => {
            "Too many login attempts from your address. Try again in a few minutes.".into()
        }
        (Id, MustChange { url }) => format!(
            "Kata sandi Anda diberikan oleh Service Desk dan harus diganti sebelum dipakai. Ganti di {url}"
        ),
        (En, MustChange { url }) => format!(
            "Your password was issued by the service desk and must be changed before use. Change it at {url}"
        ),
        (Id, Expired { url }) => format!("Kata sandi Anda sudah kedaluwarsa. Ganti di {url}"),
        (En, Expired { url }) => format!("Your password has expired. Change it at {url}"),
        (Id, Disabled) => "Akun Anda dinonaktifkan. Hubungi Service Desk (Unit TIK).".into(),
        (En, Disabled) => "Your account is disabled. Contact the service desk.".into(),
        (
            Id,
            Warning {
                days_left,
                last_day,
                url,
            },
        ) => format!(
            "Kata sandi Anda berlaku sampai {last_day} ({days_left} hari kerja lagi). Ganti sekarang di {url}"
        ),
        (
            En,
            Warning {
                days_left,
                last_day,
                url,
            },
        ) => format!(
            "Your password is valid until {last_day} ({days_left} working days left). Change it now at {url}"
        ),
        (lang, Violation(v)) => violation(lang, v),
        (Id, WrongCurrentPassword) => "Kata sandi saat ini salah.".into(),
        (En, WrongCurrentPassword) => "The current password is wrong.".into(),
        (Id, ChangeNotAllowed) => {
            "Kata sandi akun ini tidak dapat diganti sendiri. Hubungi Service Desk (Unit TIK)."
                .into()
        }
        (En, ChangeNotAllowed) => {
            "This account's password cannot be changed here. Contact the service desk.".into()
        }
        (Id, Changed { last_day }) => {
            format!("Kata sandi sudah diganti. Berlaku sampai {last_day}.")
        }
        (En, Changed { last_day }) => format!("Password changed. It is valid until {last_day}."),
    }
}

fn violation(language: Language, v: &Violation) -> String {
    use Language::{En, Id};
    match (language, v) {
        (Id, Violation::TooShort { min }) => format!("Kata sandi minimal {min} karakter."),
        (En, Violation::TooShort { min }) => {
            format!("The password needs at least {min} characters.")
        }
        (Id, Violation::TooLong { max }) => format!("Kata sandi maksimal {max} karakter."),
        (En, Violation::TooLong { max }) => {
            format!("The password may have at most {max} characters.")
        }
        (Id, Violation::TooFewClasses { need }) => {
            format!("Kata sandi harus memuat {need} dari: huruf besar, huruf kecil, angka, simbol.")
        }
        (En, Violation::TooFewClasses { need }) => format!(
            "The password needs {need} of: upper-case letters, lower-case letters, digits, symbols."
        ),
        (Id, Violation::ContainsUsername) => "Kata sandi tidak boleh memuat nama pengguna.".into(),
        (En, Violation::ContainsUsername) => "The password may not contain the user name.".into(),
        (Id, Violation::Reused { history }) => format!(
            "Kata sandi tidak boleh sama dengan kata sandi saat ini atau {history} kata sandi sebelumnya."
        ),
        (En, Violation::Reused { history }) => {
            format!("The password may not be the current one or one of the {history} before it.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_exists_in_both_languages_and_differs() {
        let v = Violation::TooShort { min: 8 };
        let all = [
            Message::BadCredentials,
            Message::Locked {
                until: Some("10:15"),
            },
            Message::Throttled,
            Message::MustChange { url: "https://x" },
            Message::Expired { url: "https://x" },
            Message::Disabled,
            Message::Warning {
                days_left: 3,
                last_day: "2026-05-08",
                url: "https://x",
            },
            Message::Violation(&v),
            Message::WrongCurrentPassword,
            Message::ChangeNotAllowed,
            Message::Changed {
                last_day: "2026-05-08",
            },
        ];
        for m in &all {
            let id = text(Language::Id, m);
            let en = text(Language::En, m);
            assert!(!id.is_empty() && !en.is_empty());
            assert_ne!(id, en, "{m:?}");
        }
        assert!(
            text(
                Language::Id,
                &Message::Expired {
                    url: "https://x/password"
                }
            )
            .contains("https://x/password")
        );
    }

    #[test]
    fn a_locked_account_looks_like_a_bad_password_unless_the_password_was_right() {
        assert_eq!(
            text(Language::En, &Message::Locked { until: None }),
            text(Language::En, &Message::BadCredentials)
        );
    }
}
