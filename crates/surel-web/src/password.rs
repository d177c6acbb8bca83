//! `/password`: the self-service change the `[EXPIRED]` replies point to
//! (SPEC §3). HTTPS only, CSRF-protected (a cookie and a form field that
//! must match), the same lockout and per-IP throttle as IMAP and SMTP (it
//! calls the same `Authenticator::change_password`), errors that keep what
//! was typed except passwords, Indonesian by default.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use surel_auth::messages::{Message, text};
use surel_auth::{ChangeError, Language};

use crate::html::{esc, page};
use crate::{Peer, Web};

#[derive(Debug, Deserialize, Default)]
pub struct LangQuery {
    pub lang: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
}

pub fn language(web: &Web, asked: Option<&str>) -> Language {
    match asked {
        Some("en") => Language::En,
        Some("id") => Language::Id,
        _ => web.language,
    }
}

pub fn code(lang: Language) -> &'static str {
    match lang {
        Language::Id => "id",
        Language::En => "en",
    }
}

fn t(lang: Language, id: &'static str, en: &'static str) -> &'static str {
    match lang {
        Language::Id => id,
        Language::En => en,
    }
}

fn new_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("surel_csrf=").map(str::to_string))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The form, with `error` shown and `login` kept.
fn form(web: &Web, lang: Language, token: &str, login: &str, error: Option<&str>) -> String {
    let policy = web.auth.policy();
    let c = &policy.config;
    let other = match lang {
        Language::Id => "<a href=\"/password?lang=en\">English</a>",
        Language::En => "<a href=\"/password?lang=id\">Bahasa Indonesia</a>",
    };
    let error = error
        .map(|e| {
            format!(
                "<div class=\"error\" role=\"alert\" id=\"form-error\">{}</div>",
                esc(e)
            )
        })
        .unwrap_or_default();
    let rules = match lang {
        Language::Id => format!(
            "<li data-rule=\"length\" data-min=\"{min}\">Minimal {min} karakter</li>\
<li data-rule=\"classes\" data-need=\"{need}\">{need} dari: huruf besar, huruf kecil, angka, simbol</li>\
<li data-rule=\"username\">Tidak memuat nama pengguna</li>\
<li data-rule=\"confirm\">Ulangan sama dengan kata sandi baru</li>\
<li>Bukan salah satu dari {hist} kata sandi terakhir Anda</li>",
            min = c.min_length,
            need = c.require_classes,
            hist = c.history
        ),
        Language::En => format!(
            "<li data-rule=\"length\" data-min=\"{min}\">At least {min} characters</li>\
<li data-rule=\"classes\" data-need=\"{need}\">{need} of: upper-case, lower-case, digits, symbols</li>\
<li data-rule=\"username\">Does not contain the user name</li>\
<li data-rule=\"confirm\">The repetition matches the new password</li>\
<li>Not one of your last {hist} passwords</li>",
            min = c.min_length,
            need = c.require_classes,
            hist = c.history
        ),
    };
    let body = format!(
        "<nav><a href=\"/\">{home}</a> {other}</nav>\
<h1>{title}</h1><p>{intro}</p>{error}\
<form method=\"post\" action=\"/password\" autocomplete=\"off\">\
<input type=\"hidden\" name=\"csrf\" value=\"{token}\"><input type=\"hidden\" name=\"lang\" value=\"{code}\">\
<label for=\"login\">{l_login}</label><input type=\"text\" id=\"login\" name=\"login\" value=\"{login}\" required autocomplete=\"username\">\
<label for=\"current\">{l_current}</label><input type=\"password\" id=\"current\" name=\"current\" required autocomplete=\"current-password\">\
<label for=\"new\">{l_new}</label><input type=\"password\" id=\"new\" name=\"new\" required autocomplete=\"new-password\" aria-describedby=\"rules\">\
<label for=\"confirm\">{l_confirm}</label><input type=\"password\" id=\"confirm\" name=\"confirm\" required autocomplete=\"new-password\">\
<ul class=\"rules\" id=\"rules\" aria-live=\"polite\">{rules}</ul>\
<button type=\"submit\">{button}</button></form><script src=\"/password.js\"></script>",
        home = t(lang, "Beranda", "Home"),
        title = t(lang, "Ganti kata sandi", "Change your password"),
        intro = t(
            lang,
            "Ganti kata sandi yang diberikan Service Desk, atau kata sandi yang sudah atau hampir kedaluwarsa.",
            "Change the password the service desk gave you, or one that has expired or is about to."
        ),
        token = esc(token),
        code = code(lang),
        login = esc(login),
        l_login = t(
            lang,
            "Nama pengguna (alamat surel atau DOMAIN\\nama)",
            "User name (e-mail address or DOMAIN\\name)"
        ),
        l_current = t(lang, "Kata sandi saat ini", "Current password"),
        l_new = t(lang, "Kata sandi baru", "New password"),
        l_confirm = t(lang, "Ulangi kata sandi baru", "Repeat the new password"),
        button = t(lang, "Ganti kata sandi", "Change password"),
    );
    page(
        code(lang),
        t(lang, "Ganti kata sandi", "Change your password"),
        &body,
    )
}

/// Responses carrying the form must not be cached, and set the CSRF cookie.
fn with_token(html: String, token: &str, status: StatusCode) -> Response {
    let mut response = (status, axum::response::Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "surel_csrf={token}; Path=/password; Secure; HttpOnly; SameSite=Strict"
    )) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn show(State(web): State<Arc<Web>>, Query(q): Query<LangQuery>) -> Response {
    let lang = language(&web, q.lang.as_deref());
    let token = new_token();
    with_token(form(&web, lang, &token, "", None), &token, StatusCode::OK)
}

pub async fn submit(
    State(web): State<Arc<Web>>,
    axum::Extension(peer): axum::Extension<Peer>,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    let lang = language(&web, Some(f.lang.as_str()));
    let token = new_token();
    let refuse = |message: String, status: StatusCode| {
        with_token(
            form(&web, lang, &token, &f.login, Some(&message)),
            &token,
            status,
        )
    };
    let csrf_ok =
        cookie_token(&headers).is_some_and(|c| !f.csrf.is_empty() && constant_time_eq(&c, &f.csrf));
    if !csrf_ok {
        return refuse(
            t(
                lang,
                "Formulir ini sudah kedaluwarsa. Silakan isi lagi.",
                "This form has expired. Please fill it in again.",
            )
            .into(),
            StatusCode::FORBIDDEN,
        );
    }
    if f.login.trim().is_empty() || f.current.is_empty() || f.new.is_empty() {
        return refuse(
            t(lang, "Isi semua kolom.", "Please fill in every field.").into(),
            StatusCode::BAD_REQUEST,
        );
    }
    if f.new != f.confirm {
        return refuse(
            t(
                lang,
                "Kata sandi baru dan ulangannya tidak sama.",
                "The new password and its repetition differ.",
            )
            .into(),
            StatusCode::BAD_REQUEST,
        );
    }
    let auth = Arc::clone(&web.auth);
    let (login, current, new) = (f.login.trim().to_string(), f.current.clone(), f.new.clone());
    let ip = peer.0.ip();
    let result =
        tokio::task::spawn_blocking(move || auth.change_password(&login, &current, &new, Some(ip)))
            .await;
    let message = match result {
        Ok(Ok(changed)) => return success(&web, lang, &f.login, changed.last_valid_day),
        Ok(Err(ChangeError::Rules(broken))) => broken
            .iter()
            .map(|v| text(lang, &Message::Violation(v)))
            .collect::<Vec<_>>()
            .join(" "),
        Ok(Err(ChangeError::BadCredentials)) | Ok(Err(ChangeError::Locked { until: None })) => {
            text(lang, &Message::BadCredentials)
        }
        Ok(Err(ChangeError::Locked { until: Some(_) })) => {
            text(lang, &Message::Locked { until: None })
        }
        Ok(Err(ChangeError::Throttled)) => text(lang, &Message::Throttled),
        Ok(Err(ChangeError::NotAllowed)) => text(lang, &Message::ChangeNotAllowed),
        Ok(Err(ChangeError::Internal(e))) => {
            tracing::error!(error = %e, "password change failed");
            t(
                lang,
                "Terjadi gangguan. Coba lagi nanti.",
                "Something went wrong. Please try again later.",
            )
            .into()
        }
        Err(_) => t(
            lang,
            "Terjadi gangguan. Coba lagi nanti.",
            "Something went wrong. Please try again later.",
        )
        .into(),
    };
    refuse(message, StatusCode::UNPROCESSABLE_ENTITY)
}

fn success(web: &Web, lang: Language, login: &str, last_day: jiff::civil::Date) -> Response {
    let last = last_day.to_string();
    let settings = crate::landing::settings_table(web, lang, login);
    let body = format!(
        "<nav><a href=\"/\">{home}</a></nav><h1>{title}</h1><div class=\"ok\" role=\"status\" id=\"done\">{done}</div>\
<p>{next}</p>{settings}",
        home = t(lang, "Beranda", "Home"),
        title = t(lang, "Kata sandi sudah diganti", "Password changed"),
        done = esc(&text(lang, &Message::Changed { last_day: &last })),
        next = t(
            lang,
            "Sekarang masukkan kata sandi baru di Thunderbird atau Outlook. Pengaturannya:",
            "Now enter the new password in Thunderbird or Outlook. The settings:"
        ),
    );
    let mut response = axum::response::Html(page(
        code(lang),
        t(lang, "Kata sandi sudah diganti", "Password changed"),
        &body,
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The checklist that updates as the user types (the form works without it).
pub const SCRIPT: &str = r#"(function () {
  var f = document.querySelector('form'); if (!f) return;
  var login = f.login, pw = f['new'], rep = f.confirm;
  function classes(s) {
    var n = 0;
    if (/[A-Z]/.test(s)) n++; if (/[a-z]/.test(s)) n++; if (/[0-9]/.test(s)) n++; if (/[^A-Za-z0-9]/.test(s)) n++;
    return n;
  }
  function user() { var v = login.value.toLowerCase(); v = v.split('@')[0]; v = v.split('\\').pop(); return v; }
  function check() {
    document.querySelectorAll('ul.rules li[data-rule]').forEach(function (li) {
      var s = pw.value, ok = false, r = li.dataset.rule;
      if (r === 'length') ok = s.length >= +li.dataset.min;
      if (r === 'classes') ok = classes(s) >= +li.dataset.need;
      if (r === 'username') { var u = user(); ok = s.length > 0 && (u.length < 3 || s.toLowerCase().indexOf(u) < 0); }
      if (r === 'confirm') ok = s.length > 0 && s === rep.value;
      li.classList.toggle('met', ok);
    });
  }
  [login, pw, rep].forEach(function (el) { el.addEventListener('input', check); });
  check();
})();
"#;
