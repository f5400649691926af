//! Durations as people write and read them: the one parser and formatter the runbook
//! model, the CLI, the API and the post-mortem share.

use std::time::Duration;

/// A duration as people write it in runbooks and forms: `30s`, `15m`, `1h 30m`,
/// `15 minutes`, `< 5 min`, `within 1 hour`; `Immediate` is zero. `None` when it is not
/// one (`next business day`).
#[must_use]
pub fn parse(text: &str) -> Option<Duration> {
    crate::text::duration(text)
}

/// `90s` as `1m 30s`, `3700s` as `1h 1m 40s`, whole days as `d`; below a second, in
/// milliseconds (`250ms`); zero as `0s`. Sub-second parts of longer durations are dropped.
#[must_use]
pub fn format(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return match d.as_millis() {
            0 => "0s".to_owned(),
            ms => format!("{ms}ms"),
        };
    }
    let mut parts = Vec::new();
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= n {
            parts.push(format!("{}{unit}", s / n));
            s %= n;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_back() {
        for (secs, text) in [
            (0, "0s"),
            (5, "5s"),
            (90, "1m 30s"),
            (3_907, "1h 5m 7s"),
            (90_000, "1d 1h"),
        ] {
            let d = Duration::from_secs(secs);
            assert_eq!(format(d), text);
            assert_eq!(parse(text), Some(d), "{text} parses back");
        }
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(parse("15 minutes"), Some(Duration::from_secs(900)));
        assert_eq!(parse("soon"), None);
    }
}
