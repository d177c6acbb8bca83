//! `/`: what this server is and how to set up Thunderbird and Outlook.
//! No account data is shown without login.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;

use surel_auth::Language;

use crate::Web;
use crate::html::{esc, page};
use crate::password::{LangQuery, code, language};

/// Host, ports and user name for mail clients, as an HTML table.
pub fn settings_table(web: &Web, lang: Language, login: &str) -> String {
    let (h_service, h_server, h_port, h_security, h_user) = match lang {
        Language::Id => ("Layanan", "Server", "Port", "Keamanan", "Nama pengguna"),
        Language::En => ("Service", "Server", "Port", "Security", "User name"),
    };
    let user = if login.trim().is_empty() {
        match lang {
            Language::Id => "alamat surel lengkap Anda".to_string(),
            Language::En => "your full e-mail address".to_string(),
        }
    } else {
        login.trim().to_string()
    };
    let row = |service: &str, port: u16, security: &str| {
        format!(
            "<tr><td>{}</td><td>{}</td><td>{port}</td><td>{}</td><td>{}</td></tr>",
            esc(service),
            esc(&web.hostname),
            esc(security),
            esc(&user)
        )
    };
    let (incoming, outgoing) = match lang {
        Language::Id => ("Surat masuk (IMAP)", "Surat keluar (SMTP)"),
        Language::En => ("Incoming mail (IMAP)", "Outgoing mail (SMTP)"),
    };
    format!(
        "<table><tr><th>{h_service}</th><th>{h_server}</th><th>{h_port}</th><th>{h_security}</th><th>{h_user}</th></tr>{}{}{}{}</table>",
        row(incoming, web.ports.imaps, "SSL/TLS"),
        row(incoming, web.ports.imap, "STARTTLS"),
        row(outgoing, web.ports.submissions, "SSL/TLS"),
        row(outgoing, web.ports.submission, "STARTTLS"),
    )
}

pub async fn show(State(web): State<Arc<Web>>, Query(q): Query<LangQuery>) -> Html<String> {
    let lang = language(&web, q.lang.as_deref());
    let (title, intro, password, formats, other) = match lang {
        Language::Id => (
            "Surel kantor",
            "Server surel kantor Anda. Bacalah dan kirimlah surat dengan Thunderbird atau Outlook, di komputer maupun ponsel.",
            "Kata sandi baru dari Service Desk, atau kata sandi yang sudah kedaluwarsa? <a href=\"/password\">Ganti kata sandi di sini</a>.",
            "Nama pengguna boleh ditulis sebagai alamat lengkap (budi@instansi.go.id), sebagai INSTANSI\\budi, atau hanya budi.",
            "<a href=\"/?lang=en\">English</a>",
        ),
        Language::En => (
            "Office mail",
            "Your office's mail server. Read and send mail with Thunderbird or Outlook, on a computer or a phone.",
            "A new password from the service desk, or an expired one? <a href=\"/password?lang=en\">Change your password here</a>.",
            "The user name may be written as the full address (budi@office.go.id), as OFFICE\\budi, or just budi.",
            "<a href=\"/?lang=id\">Bahasa Indonesia</a>",
        ),
    };
    let body = format!(
        "<nav>{other}</nav><h1>{title}</h1><p>{intro}</p><p>{password}</p><h2>{h2}</h2>{table}<p>{formats}</p>",
        h2 = match lang {
            Language::Id => "Pengaturan Thunderbird dan Outlook",
            Language::En => "Settings for Thunderbird and Outlook",
        },
        table = settings_table(&web, lang, ""),
    );
    Html(page(code(lang), title, &body))
}
