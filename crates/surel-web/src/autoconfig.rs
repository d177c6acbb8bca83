//! Client autoconfiguration: Thunderbird's autoconfig (config-v1.1.xml)
//! and Outlook's Autodiscover (the POX schema, and the v2 JSON redirect
//! Outlook tries first).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Web;
use crate::html::esc;

/// The login name a domain uses: `NETBIOS\user` where it has a NetBIOS
/// name (as its staff know from Exchange), else the address.
fn login_name(web: &Web, address: &str) -> String {
    let address = address.trim().to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return address;
    };
    let netbios = web
        .auth
        .store()
        .list_domains()
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.name == domain || d.alias_of.as_deref() == Some(domain))
        .and_then(|d| {
            if d.alias_of.is_some() {
                web.auth
                    .store()
                    .list_domains()
                    .ok()?
                    .into_iter()
                    .find(|r| Some(&r.name) == d.alias_of.as_ref())?
                    .netbios
            } else {
                d.netbios
            }
        });
    match netbios {
        Some(nb) => format!("{nb}\\{local}"),
        None => address,
    }
}

fn xml(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Thunderbird (https://wiki.mozilla.org/Thunderbird:Autoconfiguration).
pub async fn thunderbird(
    State(web): State<Arc<Web>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let address = q.get("emailaddress").cloned().unwrap_or_default();
    let domain = address
        .rsplit_once('@')
        .map(|(_, d)| d.to_lowercase())
        .unwrap_or_else(|| web.default_domain());
    let user = if address.is_empty() {
        "%EMAILADDRESS%".to_string()
    } else {
        login_name(&web, &address)
    };
    let host = esc(&web.hostname);
    let user = esc(&user);
    let server = |kind: &str, tag: &str, port: u16, socket: &str| {
        format!(
            "<{tag} type=\"{kind}\"><hostname>{host}</hostname><port>{port}</port><socketType>{socket}</socketType>\
<authentication>password-cleartext</authentication><username>{user}</username></{tag}>"
        )
    };
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\"><emailProvider id=\"{d}\">\
<domain>{d}</domain><displayName>{d}</displayName><displayShortName>{d}</displayShortName>{}{}{}{}\
<documentation url=\"{url}/\"><descr lang=\"id\">Pengaturan surel kantor</descr><descr lang=\"en\">Office mail settings</descr></documentation>\
</emailProvider></clientConfig>\n",
        server("imap", "incomingServer", web.ports.imaps, "SSL"),
        server("imap", "incomingServer", web.ports.imap, "STARTTLS"),
        server("smtp", "outgoingServer", web.ports.submissions, "SSL"),
        server("smtp", "outgoingServer", web.ports.submission, "STARTTLS"),
        d = esc(&domain),
        url = esc(&web.public_url),
    ))
}

/// The `<EMailAddress>` of an Autodiscover POX request.
fn requested_address(body: &str) -> Option<String> {
    let start = body.find("<EMailAddress>")? + "<EMailAddress>".len();
    let end = body[start..].find("</EMailAddress>")? + start;
    Some(body[start..end].trim().to_string())
}

/// Outlook's POX Autodiscover (`POST /autodiscover/autodiscover.xml`).
pub async fn outlook(State(web): State<Arc<Web>>, body: String) -> Response {
    let Some(address) = requested_address(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "expected an Autodiscover request with <EMailAddress>",
        )
            .into_response();
    };
    let login = esc(&login_name(&web, &address));
    let host = esc(&web.hostname);
    let protocol = |kind: &str, port: u16, extra: &str| {
        format!(
            "<Protocol><Type>{kind}</Type><Server>{host}</Server><Port>{port}</Port><LoginName>{login}</LoginName>\
<DomainRequired>off</DomainRequired><SPA>off</SPA><SSL>on</SSL><AuthRequired>on</AuthRequired>{extra}</Protocol>"
        )
    };
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\
<Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\
<Account><AccountType>email</AccountType><Action>settings</Action>{}{}</Account></Response></Autodiscover>\n",
        protocol("IMAP", web.ports.imaps, ""),
        protocol(
            "SMTP",
            web.ports.submissions,
            "<UsePOPAuth>off</UsePOPAuth><SMTPLast>off</SMTPLast>"
        ),
    ))
}

/// Autodiscover v2 (`GET /autodiscover/autodiscover.json?Email=…&Protocol=…`):
/// Outlook asks where the v1 (POX) endpoint is.
pub async fn outlook_json(
    State(web): State<Arc<Web>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // Parameter names and the protocol value are compared case-insensitively.
    let get = |name: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let protocol = get("Protocol").unwrap_or_default();
    if !protocol.eq_ignore_ascii_case("AutodiscoverV1") {
        let body = serde_json::json!({
            "ErrorCode": "InvalidProtocol",
            "ErrorMessage": format!("The given protocol value '{protocol}' is invalid. Supported values are 'AutodiscoverV1'"),
        });
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    axum::Json(serde_json::json!({
        "Protocol": "AutodiscoverV1",
        "Url": format!("{}/autodiscover/autodiscover.xml", web.public_url.trim_end_matches('/')),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requested_address_is_read() {
        let body = "<Autodiscover><Request><EMailAddress>budi@kemenkeu.go.id</EMailAddress></Request></Autodiscover>";
        assert_eq!(
            requested_address(body).as_deref(),
            Some("budi@kemenkeu.go.id")
        );
        assert_eq!(requested_address("<x/>"), None);
    }
}
