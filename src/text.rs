//! Text from outside (the peer, a file) made safe to print: control characters and escape
//! sequences never reach the operator's terminal, and length is bounded.

/// `text` with every control character (C0, DEL, C1, and the Unicode bidirectional overrides)
/// written as a `\u{…}` escape and at most `max` characters kept (an ellipsis and the full
/// length mark a cut).
pub fn escape(text: &str, max: usize) -> String {
    let mut out = String::new();
    let total = text.chars().count();
    for c in text.chars().take(max) {
        let dangerous = c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if dangerous {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    if total > max {
        out.push_str(&format!("… ({total} characters)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_escaped_and_length_bounded() {
        let hostile = "ok\u{1b}[2J\u{7}\r\nend\u{202e}";
        let safe = escape(hostile, 100);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert!(safe.starts_with("ok\\u{1b}[2J"));
        assert!(safe.contains("\\u{202e}"));
        let long = "x".repeat(1000);
        let cut = escape(&long, 10);
        assert!(cut.starts_with("xxxxxxxxxx…"));
        assert!(cut.contains("1000 characters"));
        assert_eq!(escape("plain text", 100), "plain text");
    }
}
