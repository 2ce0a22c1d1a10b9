//! Text an agent wrote, made safe for Slack's `mrkdwn`.
//!
//! Slack's formatting reference ("Escaping text") asks for exactly three escapes, `&` → `&amp;`,
//! `<` → `&lt;`, `>` → `&gt;`; with them every control sequence, `<!channel>`, `<!here>`,
//! `<!everyone>`, `<@U…>`, `<#C…>`, `<!subteam^…>`, `<!date^…>` and `<url|label>`, reaches Slack
//! as the text it is. Plain `@channel`, `@here` and `@everyone` are a second door: a text object
//! that is not `verbatim` has Slack parse such words into mentions. So every text object built
//! from agent text is sent `verbatim: true` ([`text`]), Block Kit's documented switch for that;
//! and, in case a message is ever sent without it, a word joiner (U+2060) goes after every `@`
//! that starts a word or precedes a mention word (`hey@here`): what follows the `@` is then no
//! longer `channel`, it reads the same and pings nobody. An `@` inside a word
//! (`alice@example.com`) is left alone. Hidden characters are shown as `\u{…}` escapes first
//! ([`holdpoint_core::text::visible`]), as on every other surface, so the only hidden character
//! in the result is the joiner this module put there. An agent's own line breaks are shown as
//! escapes too, so its text can never start a line of its own (a fake "*Approved* by alice"
//! line); mrkdwn emphasis (`*`, `_`, `~`, `` ` ``) has no escape in Slack and stays.

use holdpoint_core::text::{is_hidden, visible};
use serde_json::{Value, json};

/// Goes after an `@` that starts a word. Not a zero-width joiner (U+200D): that one joins emoji
/// sequences and could change how a following character is drawn.
pub const MENTION_BREAK: char = '\u{2060}';
/// Marks text cut short.
pub const ELLIPSIS: char = '…';

/// `text` safe for mrkdwn: hidden characters shown, `&`, `<`, `>` escaped, mentions broken.
pub fn escape(text: &str) -> String {
    escape_within(text, usize::MAX)
}

/// [`escape`], at most `max_chars` characters (Slack counts characters), ending in
/// [`ELLIPSIS`] when cut: never inside an escape, so the cut leaves no half `&amp;` or `\u{…}`.
pub fn escape_within(text: &str, max_chars: usize) -> String {
    escape_pieces(text, max_chars, |c| visible(c.encode_utf8(&mut [0; 4])))
}

/// A JSON document's (pretty) text, as [`escape_within`] does agent text, but keeping the line
/// breaks of its indentation (outside strings JSON holds only spaces and line breaks) and showing
/// each hidden character as the JSON escape `\uXXXX`, as the review page does: what a reviewer
/// reads is still the document.
pub fn escape_json_within(pretty: &str, max_chars: usize) -> String {
    escape_pieces(pretty, max_chars, |c| {
        // A backtick could close the code block the document is shown in, and what follows
        // would be read as mrkdwn: shown as its JSON escape, the document still reads the same.
        if c == '`' {
            return "\\u0060".to_owned();
        }
        if c == '\n' || !is_hidden(c) {
            return c.to_string();
        }
        c.encode_utf16(&mut [0; 2])
            .iter()
            .map(|unit| format!("\\u{unit:04x}"))
            .collect()
    })
}

fn escape_pieces(text: &str, max_chars: usize, show: impl Fn(char) -> String) -> String {
    let mut out = String::new();
    let mut used = 0usize;
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let mut piece = String::new();
        for shown in show(c).chars() {
            match shown {
                '&' => piece.push_str("&amp;"),
                '<' => piece.push_str("&lt;"),
                '>' => piece.push_str("&gt;"),
                c => piece.push(c),
            }
        }
        let starts_word = !previous.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '.');
        if c == '@' && (starts_word || names_everyone(&text[i + 1..])) {
            piece.push(MENTION_BREAK);
        }
        let len = piece.chars().count();
        // Room for the ellipsis whenever more text follows.
        let reserve = usize::from(chars.peek().is_some());
        if used + len + reserve > max_chars {
            if max_chars > used {
                out.push(ELLIPSIS);
            }
            return out;
        }
        out.push_str(&piece);
        used += len;
        previous = Some(c);
    }
    out
}

/// Whether `rest` (what follows an `@`) starts with a word that pings a whole channel.
fn names_everyone(rest: &str) -> bool {
    ["channel", "here", "everyone"].iter().any(|w| {
        rest.get(..w.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(w))
    })
}

/// A Block Kit `mrkdwn` text object of text already made safe, never parsed for mentions or
/// links by Slack.
pub fn text(safe: impl Into<String>) -> Value {
    json!({"type": "mrkdwn", "text": safe.into(), "verbatim": true})
}

/// A `plain_text` object (button labels, which hold Holdpoint's words, never an agent's).
pub fn plain(label: &str) -> Value {
    json!({"type": "plain_text", "text": label, "emoji": false})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::hostile::{assert_inert, hostile};

    #[test]
    fn every_hostile_text_arrives_inert() {
        for h in hostile() {
            assert_inert(&escape(&h), MENTION_BREAK);
            for max in [0, 1, 2, 3, 4, 5, 6, 7, 10, 100] {
                let cut = escape_within(&h, max);
                assert!(cut.chars().count() <= max, "{h:?} at {max}: {cut:?}");
                assert_inert(&cut, MENTION_BREAK);
            }
        }
    }

    #[test]
    fn slacks_three_escapes_and_nothing_else() {
        assert_eq!(escape("a & b < c > d"), "a &amp; b &lt; c &gt; d");
        assert_eq!(escape("<!channel>"), "&lt;!channel&gt;");
        assert_eq!(escape("&lt;"), "&amp;lt;");
        assert_eq!(
            escape("\"quotes\" 'stay' «and» — é"),
            "\"quotes\" 'stay' «and» — é"
        );
    }

    #[test]
    fn mentions_are_broken_addresses_are_not() {
        assert_eq!(escape("@channel"), "@\u{2060}channel");
        assert_eq!(escape("ping (@here)"), "ping (@\u{2060}here)");
        assert_eq!(escape("alice@example.com"), "alice@example.com");
        assert_eq!(escape("hey@Here"), "hey@\u{2060}Here");
        assert_eq!(escape("@@"), "@\u{2060}@\u{2060}");
    }

    #[test]
    fn hidden_characters_are_shown_not_obeyed() {
        assert_eq!(escape("a\u{202E}b\nc"), "a\\u{202e}b\\u{a}c");
        // The agent's own zero width space cannot hide a mention either.
        assert_eq!(escape("@\u{200B}channel"), "@\u{2060}\\u{200b}channel");
    }

    #[test]
    fn a_cut_never_splits_an_escape_and_says_so() {
        assert_eq!(escape_within("a<b", 5), "a…");
        assert_eq!(escape_within("a<bc", 6), "a&lt;…");
        assert_eq!(escape_within("a<b", 6), "a&lt;b");
        assert_eq!(escape_within("a<", 5), "a&lt;");
        assert_eq!(escape_within("\u{202E}x", 9), "\\u{202e}x");
        assert_eq!(escape_within("\u{202E}x", 8), "…");
        assert_eq!(escape_within("short", 100), "short");
        assert_eq!(escape_within("abc", 0), "");
    }

    #[test]
    fn json_keeps_its_line_breaks_and_shows_hidden_characters_as_json_does() {
        let pretty = "{\n  \"a\": \"x\u{202E}<@here>\"\n}";
        assert_eq!(
            escape_json_within(pretty, 100),
            "{\n  \"a\": \"x\\u202e&lt;@\u{2060}here&gt;\"\n}"
        );
        assert_eq!(
            escape_json_within("\u{1F600}\u{FEFF}", 100),
            "\u{1F600}\\ufeff"
        );
    }

    #[test]
    fn text_objects_are_verbatim() {
        let t = text(escape("@here"));
        assert_eq!(t["type"], "mrkdwn");
        assert_eq!(t["verbatim"], true);
        assert_eq!(plain("Approve")["type"], "plain_text");
    }
}
