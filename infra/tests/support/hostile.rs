//! What agents (or whoever steers them) might send to a reviewer's browser: the review page's
//! and the inbox's browser tests show each as text and run none of it.

/// Markup, script, URL, CSS and Unicode tricks an agent (or whoever steers it) might send.
pub fn hostile() -> Vec<String> {
    [
        "<script>window.__pwned=1</script>",
        "<img src=x onerror=\"window.__pwned=1\">",
        "<IMG SRC=JaVaScRiPt:window.__pwned=1>",
        "<svg onload=\"window.__pwned=1\">",
        "<svg><script>window.__pwned=1</script></svg>",
        "\"><script>window.__pwned=1</script>",
        "'><img src=x onerror=window.__pwned=1>",
        "</bdi><img src=x onerror=window.__pwned=1>",
        "</pre><script>window.__pwned=1</script>",
        "</textarea><script>window.__pwned=1</script>",
        "</title><script>window.__pwned=1</script>",
        "</style><script>window.__pwned=1</script>",
        "<a href=\"javascript:window.__pwned=1\">click me</a>",
        "javascript:window.__pwned=1",
        "data:text/html,<script>window.__pwned=1</script>",
        "<iframe src=\"javascript:parent.__pwned=1\"></iframe>",
        "<object data=\"javascript:window.__pwned=1\"></object>",
        "<embed src=\"javascript:window.__pwned=1\">",
        "<body onload=window.__pwned=1>",
        "<details open ontoggle=window.__pwned=1>",
        "<input autofocus onfocus=window.__pwned=1>",
        "<video><source onerror=\"window.__pwned=1\"></video>",
        "<marquee onstart=window.__pwned=1>x</marquee>",
        "<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>",
        "<noscript><p title=\"</noscript><img src=x onerror=window.__pwned=1>\">",
        "<scr<script>ipt>window.__pwned=1</scr</script>ipt>",
        "<meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__pwned=1\">",
        "<base href=\"javascript:/\">",
        "<link rel=stylesheet href=\"//evil.example/x.css\">",
        "<style>body{display:none}</style>",
        "<div style=\"position:fixed;inset:0;background:red\">fake approve</div>",
        "<form action=\"https://evil.example/steal\"><button>Approve</button></form>",
        "{{constructor.constructor('window.__pwned=1')()}}",
        "${window.__pwned=1}",
        "&lt;script&gt;window.__pwned=1&lt;/script&gt;",
        "\u{202E}fdp.exe rm -rf /",
        "pay\u{200D}ment to \u{0430}pprove\u{FEFF} now",
        "\u{2066}hidden\u{2069} direction \u{061C}marks",
    ]
    .map(String::from)
    .to_vec()
}
