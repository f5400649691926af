//! Fuzz target: the three receivers' payload parsers (Alertmanager, Grafana, generic) never
//! panic on any bytes, and what they accept respects the documented caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sitrep_alerts::{MAX_ALERTS, MAX_LABELS, parse_alertmanager, parse_generic, parse_grafana};

fuzz_target!(|data: &[u8]| {
    for parse in [parse_alertmanager, parse_grafana, parse_generic] {
        if let Ok(batch) = parse(data) {
            assert!(batch.alerts.len() <= MAX_ALERTS);
            for a in &batch.alerts {
                assert!(a.labels.len() <= MAX_LABELS);
                // The identity every source shares is computable for anything accepted.
                let _ = sitrep_alerts::Fingerprint::of_labels(&a.labels);
            }
        }
    }
});
