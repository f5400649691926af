//! Text from a pack made safe to show: a pack is untrusted input, and a member name
//! with escape sequences could repaint a terminal (an "OK" over "NOT VERIFIED").

use std::fmt::Write as _;

/// Whether `c` must never reach a terminal as itself: control characters (C0, DEL,
/// C1, so every escape sequence) and the invisible format characters that reorder
/// or hide text (bidi overrides and isolates, zero-width characters, BOM).
#[must_use]
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `text` with every unsafe character written as `\u{XXXX}`; everything else as is.
#[must_use]
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// A name from the pack (raw bytes), shown unambiguously: invalid UTF-8 as `\x..`,
/// backslashes doubled, unsafe characters escaped, cut after `MAX_SHOWN` bytes.
#[must_use]
pub fn name(bytes: &[u8]) -> String {
    const MAX_SHOWN: usize = 200;
    let shown = &bytes[..bytes.len().min(MAX_SHOWN)];
    let mut out = String::with_capacity(shown.len());
    for chunk in shown.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if is_unsafe(c) {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    if bytes.len() > MAX_SHOWN {
        let _ = write!(out, "... ({} bytes)", bytes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_bidi_overrides_are_escaped() {
        let raw = "\u{1b}[2K\rOK\u{202e}\u{9b}31m";
        let shown = sanitize(raw);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert_eq!(shown, "\\u{001b}[2K\\u{000d}OK\\u{202e}\\u{009b}31m");
        assert_eq!(name(b"a\\b\xff\x1b"), "a\\\\b\\xff\\u{001b}");
        assert_eq!(sanitize("blobs/ab c-é"), "blobs/ab c-é");
        assert!(name(&[b'a'; 1000]).ends_with("... (1000 bytes)"));
    }
}
