//! Text an agent or a person wrote, as every surface treats it: one rule for what is blank, one
//! for the characters that hide or disguise text, and how each surface shows them.

/// Nothing but white space, as JSON Schema's (ECMAScript's) `\s` has it, so that the
/// `\S` pattern of openapi.yaml and this check agree on every character.
pub fn is_blank(value: &str) -> bool {
    value.chars().all(|c| {
        matches!(
            c,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202f}'
                    | '\u{205f}'
                    | '\u{3000}'
                    | '\u{feff}'
        )
    })
}

/// Whether `c` hides or disguises text: control characters and line or paragraph separators
/// (they could forge a log or console line, or drive a terminal) and invisible formatting
/// characters (bidi overrides, zero-width characters: a name could pose as another).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `text` with every [hidden](is_hidden) character shown as a `\u{…}` escape, so what an agent
/// wrote is shown as data and never drives a terminal or disguises itself.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes text for HTML content and attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text an agent wrote, for HTML: [hidden](is_hidden) characters shown as escapes, then markup
/// escaped. Every HTML surface (review page, mail) shows agent text through this and nothing else.
pub fn html_visible(text: &str) -> String {
    html(&visible(text))
}

/// A JSON document's (pretty) text, for HTML: each [hidden](is_hidden) character written as the
/// JSON escape `\uXXXX`, then markup escaped. Outside strings JSON holds only spaces and line
/// breaks, so only the line breaks of the indentation are kept; the escape is JSON's own so that
/// a document a reviewer sends back edited is still the same document, and still valid JSON.
pub fn html_json(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c != '\n' && is_hidden(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                shown.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            shown.push(c);
        }
    }
    html(&shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_bidi_overrides_are_shown_not_obeyed() {
        assert_eq!(visible("ok\u{1b}[2Jgone"), "ok\\u{1b}[2Jgone");
        assert_eq!(visible("a\nb\u{202e}c"), "a\\u{a}b\\u{202e}c");
        assert_eq!(visible("x\u{200b}y\u{feff}"), "x\\u{200b}y\\u{feff}");
        assert_eq!(
            visible("Drop table «users» — 100 %"),
            "Drop table «users» — 100 %"
        );
    }

    #[test]
    fn blank_is_json_schemas_white_space_and_nothing_else() {
        assert!(is_blank(""));
        assert!(is_blank(" \t\n\u{a0}\u{3000}\u{feff}"));
        assert!(!is_blank(" x "));
        assert!(
            !is_blank("\u{200b}"),
            "zero width space is not \\s: hidden, not blank"
        );
    }

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    /// ESC, other C0 controls, DEL, C1 controls, bidi overrides and isolates, zero-width
    /// characters: what an agent could write to drive a terminal or disguise its words.
    const HOSTILE: &str =
        "a\u{1b}[31mb\u{7}\u{8}\u{7f}\u{85}\u{9b}\u{202e}\u{2066}\u{200b}\u{200d}\u{feff}<i>";

    #[test]
    fn agent_text_in_html_shows_every_hidden_character_and_no_markup() {
        let shown = html_visible(HOSTILE);
        assert_eq!(
            shown,
            "a\\u{1b}[31mb\\u{7}\\u{8}\\u{7f}\\u{85}\\u{9b}\\u{202e}\\u{2066}\\u{200b}\\u{200d}\\u{feff}&lt;i&gt;"
        );
        assert!(!shown.chars().any(is_hidden));
    }

    #[test]
    fn a_document_in_html_keeps_its_lines_and_stays_the_same_json() {
        let doc = format!(
            "{{\n  \"k\": {}\n}}",
            serde_json::to_string(HOSTILE).unwrap()
        );
        let shown = html_json(&doc);
        assert!(
            shown.contains("\\u001b[31mb\\u0007\\b\\u007f\\u0085\\u009b\\u202e"),
            "{shown}"
        );
        assert!(!shown.chars().any(|c| c != '\n' && is_hidden(c)), "{shown}");
        assert_eq!(shown.lines().count(), 3);
        let back = shown
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"");
        let (sent, seen): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(&doc).unwrap(),
            serde_json::from_str(&back).unwrap(),
        );
        assert_eq!(sent, seen);
    }
}
