//! Config errors an admin can act on: `FILE:LINE: KEY: what is wrong and what to write`.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    /// Dotted key, e.g. `imap.listen`.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn unreadable(path: &Path, e: &std::io::Error) -> Self {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (copy config/surel.toml from the source tree, or pass --config PATH)"
        } else {
            ""
        };
        ConfigError {
            path: path.to_path_buf(),
            line: None,
            key: None,
            message: format!("cannot read the config: {e}{hint}"),
        }
    }

    /// Turns a toml/serde error into one naming the key and its line.
    pub fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> Self {
        let message = e.message().trim().to_string();
        let offset = e.span().map(|s| s.start);
        let line = offset.map(|o| line_of(text, o));
        let section = offset.map(|o| section_at(text, o)).unwrap_or_default();
        let key_here = if let Some(field) = backticked(&message).first().copied()
            && message.starts_with("unknown field")
        {
            Some(field.to_string())
        } else if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            Some(field.to_string())
        } else {
            offset.and_then(|o| key_on_line(text, o))
        };
        let key = key_here.map(|k| join(&section, &k));
        let message = if message.starts_with("unknown field") {
            unknown_key_hint(&message)
        } else if message.starts_with("missing field") {
            "this key is required here: add it (config/surel.toml shows an example)".into()
        } else if message.contains("invalid socket address") {
            format!(
                "{message}: write addresses as \"IP:PORT\", e.g. \"0.0.0.0:993\" or \"[::]:993\""
            )
        } else {
            message
        };
        ConfigError {
            path: path.to_path_buf(),
            line,
            key,
            message,
        }
    }

    /// An error found after parsing, for the dotted `key`; its line is looked up in `text`.
    pub fn at_key(path: &Path, text: &str, key: &str, message: String) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            line: locate(text, key),
            key: Some(key.to_string()),
            message,
        }
    }
}

fn join(section: &str, key: &str) -> String {
    // `""` is a legal TOML key (`[""]`, `"" = 1`): name it as TOML writes
    // it, not as an empty string (found by fuzzing, issue 10).
    let key = if key.is_empty() { "\"\"" } else { key };
    if section.is_empty() {
        key.to_string()
    } else {
        format!("{section}.{key}")
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The `[table]` (or `[[array]]`) header in force at `offset`.
fn section_at(text: &str, offset: usize) -> String {
    text[..offset.min(text.len())]
        .lines()
        .rev()
        .find_map(table_header)
        .unwrap_or_default()
}

fn table_header(line: &str) -> Option<String> {
    let t = line.trim();
    let inner = t.strip_prefix("[[").and_then(|r| r.split("]]").next());
    let inner = inner.or_else(|| t.strip_prefix('[').and_then(|r| r.split(']').next()))?;
    Some(inner.trim().to_string())
}

/// The key written at the start of the line holding `offset` (`key = value`).
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.contains(char::is_whitespace)).then(|| key.to_string())
}

/// The line where the dotted `key` is written, if it is.
fn locate(text: &str, key: &str) -> Option<usize> {
    let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(header) = table_header(line) {
            current = header;
            continue;
        }
        if current == section
            && let Some((k, _)) = line.split_once('=')
            && k.trim().trim_matches('"') == name
        {
            return Some(i + 1);
        }
    }
    None
}

fn backticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// serde says "unknown field `lisen`, expected `listen` or `listen_tls`";
/// say which one was probably meant.
fn unknown_key_hint(message: &str) -> String {
    let names = backticked(message);
    let Some((wrong, expected)) = names.split_first() else {
        return message.to_string();
    };
    let best = expected
        .iter()
        .map(|name| (strsim::damerau_levenshtein(wrong, name), *name))
        .min();
    let known = expected.join(", ");
    match best {
        Some((distance, name)) if distance <= 3 || strsim::jaro_winkler(wrong, name) > 0.85 => {
            format!("unknown key `{wrong}`: did you mean `{name}`? (keys here: {known})")
        }
        _ if expected.is_empty() => format!("unknown key `{wrong}`: this table takes no keys"),
        _ => format!("unknown key `{wrong}` (keys here: {known})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_in_their_tables() {
        let text = "a = 1\n[imap]\nlisten = []\n[smtp]\nlisten = []\n";
        assert_eq!(locate(text, "smtp.listen"), Some(5));
        assert_eq!(locate(text, "imap.listen"), Some(3));
        assert_eq!(locate(text, "a"), Some(1));
        assert_eq!(locate(text, "web.listen"), None);
    }

    #[test]
    fn suggestions_pick_the_closest_key() {
        let m = "unknown field `max_mesage_size`, expected one of `listen`, `max_message_size`";
        assert!(unknown_key_hint(m).contains("did you mean `max_message_size`"));
        let m = "unknown field `zzz`, expected `listen` or `listen_tls`";
        assert!(!unknown_key_hint(m).contains("did you mean"));
    }
}
