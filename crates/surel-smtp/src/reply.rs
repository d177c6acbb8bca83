//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463).

/// One reply; `text` may hold several lines (joined with '\n').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// e.g. "5.1.1"; empty for 220/221 banners and EHLO.
    pub status: &'static str,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Reply {
        Reply {
            code,
            status,
            text: text.into(),
        }
    }

    /// The bytes on the wire, multi-line as `250-…` / `250 …`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let lines: Vec<&str> = self.text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            let line: String = line.chars().filter(|c| *c != '\r').collect();
            if self.status.is_empty() {
                out.extend_from_slice(format!("{}{sep}{line}\r\n", self.code).as_bytes());
            } else {
                out.extend_from_slice(
                    format!("{}{sep}{} {line}\r\n", self.code, self.status).as_bytes(),
                );
            }
        }
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_single_or_multi_line() {
        let mut out = Vec::new();
        Reply::new(550, "5.1.1", "No such user").encode(&mut out);
        assert_eq!(out, b"550 5.1.1 No such user\r\n");
        out.clear();
        Reply::new(250, "", "mail.example.go.id\nPIPELINING\nSIZE 100").encode(&mut out);
        assert_eq!(
            out,
            b"250-mail.example.go.id\r\n250-PIPELINING\r\n250 SIZE 100\r\n"
        );
    }
}
