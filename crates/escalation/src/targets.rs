//! Outbound webhook targets that should not receive pages: loopback, link-local and
//! cloud metadata services (`169.254.169.254`). A page to one sends incident data to a
//! service on the server's own host or to the cloud's credential endpoint, which is how
//! a config edit becomes server-side request forgery. Pure: the host is read from the
//! URL text, nothing is resolved.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address a webhook host is, when it is one to warn about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risky {
    /// A cloud metadata service (credentials live there).
    Metadata,
    /// 169.254.0.0/16 or fe80::/10.
    LinkLocal,
    /// The server itself: 127.0.0.0/8, ::1, `localhost`, 0.0.0.0.
    Loopback,
}

impl Risky {
    /// The lint code.
    pub fn code(self) -> &'static str {
        match self {
            Risky::Metadata => "metadata-target",
            Risky::LinkLocal => "link-local-target",
            Risky::Loopback => "loopback-target",
        }
    }

    /// What it is, for a person.
    pub fn what(self) -> &'static str {
        match self {
            Risky::Metadata => "a cloud metadata service, where instance credentials live",
            Risky::LinkLocal => "a link-local address",
            Risky::Loopback => "this host (loopback)",
        }
    }
}

/// The host of an http(s) URL, lower-case, without port, userinfo or IPv6 brackets.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether `host` is one to warn about, and why.
pub fn classify(host: &str) -> Option<Risky> {
    if matches!(
        host,
        "metadata.google.internal" | "metadata" | "instance-data" | "instance-data.ec2.internal"
    ) {
        return Some(Risky::Metadata);
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Some(Risky::Loopback);
    }
    match host.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Risky> {
    // 169.254.169.254 (AWS, GCP, Azure, OpenStack...), 100.100.100.200 (Alibaba).
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some(Risky::Metadata)
    } else if ip.is_link_local() {
        Some(Risky::LinkLocal)
    } else if ip.is_loopback() || ip.is_unspecified() {
        Some(Risky::Loopback)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Risky> {
    // fd00:ec2::254: AWS's metadata service over IPv6.
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some(Risky::Metadata)
    } else if ip.segments()[0] & 0xffc0 == 0xfe80 {
        Some(Risky::LinkLocal)
    } else if ip.is_loopback() || ip.is_unspecified() {
        Some(Risky::Loopback)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_from_urls() {
        assert_eq!(
            url_host("http://user:pw@169.254.169.254:80/latest/meta-data").as_deref(),
            Some("169.254.169.254")
        );
        assert_eq!(url_host("https://[::1]:8443/x").as_deref(), Some("::1"));
        assert_eq!(
            url_host("https://LOCALHOST./x").as_deref(),
            Some("localhost")
        );
        assert_eq!(
            url_host("https://hooks.example?x=1").as_deref(),
            Some("hooks.example")
        );
    }

    #[test]
    fn risky_hosts_are_classified() {
        assert_eq!(classify("169.254.169.254"), Some(Risky::Metadata));
        assert_eq!(classify("metadata.google.internal"), Some(Risky::Metadata));
        assert_eq!(classify("fd00:ec2::254"), Some(Risky::Metadata));
        assert_eq!(classify("169.254.10.1"), Some(Risky::LinkLocal));
        assert_eq!(classify("fe80::1"), Some(Risky::LinkLocal));
        assert_eq!(classify("127.0.0.2"), Some(Risky::Loopback));
        assert_eq!(classify("::ffff:127.0.0.1"), Some(Risky::Loopback));
        assert_eq!(classify("0.0.0.0"), Some(Risky::Loopback));
        assert_eq!(classify("api.localhost"), Some(Risky::Loopback));
        assert_eq!(classify("10.0.0.5"), None);
        assert_eq!(classify("hooks.slack.com"), None);
    }
}
