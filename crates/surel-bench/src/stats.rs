//! Latency samples and the figures printed from them.

use std::time::Duration;

#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0.0–1.0) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let mut sorted = self.0.clone();
        sorted.sort();
        let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted[at].as_secs_f64() * 1000.0
    }
}

/// One result line: `NAME key=value …`, read by `tests/bench/run`.
pub fn report(name: &str, figures: &[(&str, f64)]) {
    let mut line = name.to_string();
    for (key, value) in figures {
        line.push_str(&format!(" {key}={value:.3}"));
    }
    println!("{line}");
}
