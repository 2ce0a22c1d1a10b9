//! Texts an agent (or whoever steers it) might write into a Slack message, and the check that
//! what Holdpoint made of one is inert: the list idea of infra/tests/support/hostile.rs, for
//! Slack's markup instead of a browser's.

/// What an agent (or whoever steers it) might write to reach past the message: Slack's
/// control sequences, mention words, mrkdwn links, entities, hidden characters; and the
/// some of the browser list's markup tricks, which must arrive as the text they are too.
pub(crate) fn hostile() -> Vec<String> {
    let mut all: Vec<String> = [
        "@channel deploy now",
        "@here",
        "@everyone",
        "@Channel @HERE @EveryOne",
        "hey@channel",
        "(@here)",
        "<!channel>",
        "<!here|here>",
        "<!everyone>",
        "<@U0123ABCD>",
        "<@W0123ABCD|alice>",
        "<#C0123ABCD>",
        "<!subteam^S0123ABCD>",
        "<!date^1392734382^{date}|Feb 18>",
        "<https://evil.example|https://holdpoint.example/approve>",
        "<mailto:a@evil.example|Approve>",
        "&lt;!channel&gt;",
        "&amp;lt;!here&amp;gt;",
        "&#60;!channel&#62;",
        "\u{FF1C}!channel\u{FF1E}",
        "@\u{200B}channel",
        "<\u{200B}!channel>",
        "\u{202E}lennahc@",
        "line\nbreak\r\nand\ttab",
        "*Approved* by _alice_ ~no~ `code` ```block```",
        "<script>alert(1)</script>",
        "\u{1b}[2J\u{7}",
    ]
    .map(String::from)
    .to_vec();
    all.push("<".repeat(5_000));
    all.push("@".repeat(5_000));
    all.push("&".repeat(5_000));
    all
}

/// No sequence Slack would act on: no `<` or `>` left, every `&` starts one of the three
/// escapes, no mention word, and no hidden character but `mention_break` (the one Holdpoint
/// puts after an `@`).
pub(crate) fn assert_inert(shown: &str, mention_break: char) {
    assert!(!shown.contains('<') && !shown.contains('>'), "{shown:?}");
    for (i, _) in shown.match_indices('&') {
        let rest = &shown[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "{shown:?}"
        );
    }
    let lower = shown.to_lowercase();
    for word in ["@channel", "@here", "@everyone"] {
        assert!(!lower.contains(word), "{shown:?}");
    }
    for c in shown.chars() {
        assert!(
            c == mention_break || !holdpoint_core::text::is_hidden(c),
            "hidden {c:?} in {shown:?}"
        );
    }
}
