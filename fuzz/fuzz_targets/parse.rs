//! Fuzz target: `parse` and `lint` never panic, and every range they return lies within
//! the input on char boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (runbook, mut diags) = sitrep_runbook::parse(&text);
    diags.extend(sitrep_runbook::lint(&runbook, &text));
    let ok = |r: &std::ops::Range<usize>| {
        r.start <= r.end
            && r.end <= text.len()
            && text.is_char_boundary(r.start)
            && text.is_char_boundary(r.end)
    };
    for d in &diags {
        assert!(ok(&d.span), "diagnostic span {:?}", d.span);
    }
    for s in &runbook.sections {
        assert!(ok(&s.span) && ok(&s.range));
    }
    for s in &runbook.steps {
        assert!(ok(&s.span));
        assert!(s.commands.iter().all(|c| ok(&c.span)));
        assert!(s.placeholders.iter().flat_map(|p| &p.spans).all(ok));
    }
    assert!(runbook.tables.iter().all(|t| ok(&t.span)));
    assert!(runbook.checklist.iter().all(|c| ok(&c.span)));
    assert!(runbook.alert_rules.iter().all(|a| ok(&a.span)));
    assert!(runbook.links.iter().all(|l| ok(&l.span)));
});
