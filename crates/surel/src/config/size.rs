//! Sizes written as people write them: "50M", "1G", "512 KiB".

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A size in bytes. A bare `K`, `M`, `G` or `T` suffix is binary, as in
/// Dovecot and Postfix configs ("50M" = 50 MiB); other spellings ("50 MB",
/// "50 MiB") are read by the bytesize crate with their usual meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl std::str::FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let shift = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
            Some('K') => Some(10),
            Some('M') => Some(20),
            Some('G') => Some(30),
            Some('T') => Some(40),
            _ => None,
        };
        if let Some(shift) = shift
            && let Ok(n) = t[..t.len() - 1].trim().parse::<u64>()
        {
            return n
                .checked_shl(shift)
                .filter(|v| v >> shift == n)
                .map(Size)
                .ok_or_else(|| format!("size {s:?} is too large"));
        }
        t.parse::<bytesize::ByteSize>()
            .map(|b| Size(b.as_u64()))
            .map_err(|_| format!("invalid size {s:?}: write e.g. \"50M\", \"1G\" or \"512K\""))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", bytesize::ByteSize(self.0).display().iec())
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(Size(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_dovecot() {
        assert_eq!("50M".parse(), Ok(Size(50 << 20)));
        assert_eq!("50m".parse(), Ok(Size(50 << 20)));
        assert_eq!("1G".parse(), Ok(Size(1 << 30)));
        assert_eq!("512 K".parse(), Ok(Size(512 << 10)));
        assert_eq!("50 MiB".parse(), Ok(Size(50 << 20)));
        assert_eq!("50 MB".parse(), Ok(Size(50_000_000)));
        assert_eq!("1024".parse(), Ok(Size(1024)));
        assert!("fifty".parse::<Size>().is_err());
        assert!("-1M".parse::<Size>().is_err());
        assert!("99999999999999T".parse::<Size>().is_err());
    }
}
