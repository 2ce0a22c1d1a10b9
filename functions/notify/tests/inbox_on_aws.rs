//! The reviewer inbox on AWS, end to end through the function binaries with API Gateway HTTP API
//! (payload 2.0) events as the service sends them: a form body base64-encoded, cookies in the
//! request's `cookies` array (never a `Cookie` header), and routes outside IAM authorisation.
//! POST /inbox (decide) puts `Sign-in Requested` on the bus; the notify function, given the event
//! EventBridge delivered, mails and posts the link; GET /inbox/sign-in (read) confirms without
//! consuming it; POST /inbox/sign-in (decide) answers 303 with the session cookie; GET /inbox
//! (read) lists the reviewer's approval; a form with the CSRF token decides it (decide).
//!
//! How the cookie travels: lambda_http joins the request's `cookies` array into one `Cookie`
//! header, and moves every `Set-Cookie` of a response into the v2 response's `cookies` array
//! (leaving none in `headers`); API Gateway turns that array into `Set-Cookie` headers, so the
//! browser gets it. Asserted below, so a change of either side fails here.
//!
//! The decide and read binaries are found beside notify's in the target directory: `cargo test`
//! of the workspace builds them; alone, build them first
//! (`cargo build -p holdpoint-read -p holdpoint-decide`).

use std::path::{Path, PathBuf};

use base64::Engine;
use holdpoint::directory::new_webhook_secret;
use holdpoint_tests::bus::bus;
use holdpoint_tests::lambda::{Function, store_env};
use holdpoint_tests::receivers::Webhooks;
use serde_json::{Value, json};

const FROM: &str = "holdpoint@example.com";
const ORIGIN: &str = "https://holdpoint.example";
const COOKIE: &str = "__Host-holdpoint-session";

/// A sibling function binary (same target directory as this crate's `notify`).
fn sibling(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_notify")).with_file_name(name);
    assert!(
        path.exists(),
        "{} is not built: cargo build -p holdpoint-read -p holdpoint-decide",
        path.display()
    );
    path
}

/// What a browser sends, as API Gateway hands it to the function.
struct Browser<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    cookies: Vec<String>,
    /// A url-encoded form, base64-encoded as API Gateway sends a form body.
    form: Option<String>,
}

impl Browser<'_> {
    fn event(&self) -> Value {
        let mut headers = json!({
            "accept": "text/html",
            "host": "holdpoint.example",
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            "sec-fetch-site": "same-origin",
        });
        let mut event = json!({
            "version": "2.0",
            "routeKey": format!("{} {}", self.method, self.path),
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": headers.clone(),
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "a1b2c3d4e5",
                "domainName": "holdpoint.example",
                "domainPrefix": "holdpoint",
                "http": {
                    "method": self.method, "path": self.path, "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.10", "userAgent": "Mozilla/5.0"
                },
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": format!("{} {}", self.method, self.path),
                "stage": "$default",
                "time": "30/Nov/2026:10:15:00 +0000",
                "timeEpoch": 1_795_342_500_000_u64
            },
            "isBase64Encoded": false,
        });
        if !self.query.is_empty() {
            let params: serde_json::Map<String, Value> = url_pairs(self.query)
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            event["queryStringParameters"] = Value::Object(params);
        }
        if !self.cookies.is_empty() {
            event["cookies"] = json!(self.cookies);
        }
        if let Some(form) = &self.form {
            headers["content-type"] = json!("application/x-www-form-urlencoded");
            headers["content-length"] = json!(form.len().to_string());
            headers["origin"] = json!(ORIGIN);
            event["headers"] = headers;
            event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(form));
            event["isBase64Encoded"] = json!(true);
        }
        event
    }
}

fn url_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&').filter_map(|p| {
        let (k, v) = p.split_once('=')?;
        Some((k.to_owned(), v.to_owned()))
    })
}

fn get<'a>(path: &'a str, query: &'a str, cookies: &[String]) -> Value {
    Browser {
        method: "GET",
        path,
        query,
        cookies: cookies.to_vec(),
        form: None,
    }
    .event()
}

fn post(path: &str, form: &str, cookies: &[String]) -> Value {
    Browser {
        method: "POST",
        path,
        query: "",
        cookies: cookies.to_vec(),
        form: Some(form.to_owned()),
    }
    .event()
}

/// The HTML of a v2 response (decoded if the runtime base64-encoded it).
fn page(response: &Value) -> String {
    let body = response["body"].as_str().unwrap_or_default();
    if response["isBase64Encoded"] == true {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        String::from_utf8(bytes).unwrap()
    } else {
        body.to_owned()
    }
}

/// The `value` attribute of the hidden field `name` on `html`.
fn field(html: &str, name: &str) -> String {
    let at = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&at)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + at.len();
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

/// The v2 response's `cookies` array, after checking no `Set-Cookie` was left in `headers`
/// (API Gateway v2 sends a browser the cookies it is given in that array).
fn set_cookies(response: &Value) -> Vec<String> {
    let headers = response["headers"].as_object().cloned().unwrap_or_default();
    assert!(
        !headers.keys().any(|k| k.eq_ignore_ascii_case("set-cookie")),
        "{response}"
    );
    let multi = response["multiValueHeaders"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        !multi.keys().any(|k| k.eq_ignore_ascii_case("set-cookie")),
        "{response}"
    );
    response["cookies"]
        .as_array()
        .map(|c| c.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

async fn ses_sent() -> Vec<Value> {
    let url = format!("{}/holdpoint-test/ses-sent", holdpoint_tests::endpoint());
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_reviewer_signs_in_and_decides_through_the_functions_as_api_gateway_calls_them() {
    let bus = bus().await;
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let mut principals = holdpoint_tests::iam_principals();
    let reviewer = principals
        .iter_mut()
        .find(|p| p.name == "reviewer")
        .unwrap();
    reviewer.email = Some("reviewer@example.com".into());
    reviewer.webhook = Some(hooks.url("/reviewer"));
    reviewer.webhook_secret = Some(new_webhook_secret());
    hooks
        .trust("reviewer", reviewer.webhook_secret.as_deref().unwrap())
        .await;
    let mut env = store_env(&store, &principals).await;
    env.push(("HOLDPOINT_EMAIL_FROM", FROM.to_owned()));
    env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()));
    env.push(("HOLDPOINT_EVENT_BUS", bus.name.clone()));
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let _ = aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(FROM)
        .send()
        .await;
    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 3_600).await;
    let decide = Function::start(&sibling("decide"), &env).await;
    let read = Function::start(&sibling("read"), &env).await;
    let notify = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;

    // 1. The name, asked for on the sign-in form: the page, and the request on the bus.
    let asked = decide
        .invoke(post("/inbox", "tenant=acme&name=reviewer", &[]))
        .await
        .expect("a response");
    assert_eq!(asked["statusCode"], 200, "{asked}");
    assert!(
        page(&asked).contains("a sign-in link is on its way"),
        "{asked}"
    );
    // A body not base64-encoded (API Gateway encodes form bodies, but need not) is read alike;
    // a name nobody has is answered and handed on the same.
    let mut plain = post("/inbox", "tenant=acme&name=nobody", &[]);
    plain["body"] = json!("tenant=acme&name=nobody");
    plain["isBase64Encoded"] = json!(false);
    let unknown = decide.invoke(plain).await.expect("a response");
    assert_eq!(unknown["statusCode"], 200, "{unknown}");
    assert_eq!(page(&unknown), page(&asked));
    let mut events = Vec::new();
    holdpoint_tests::receivers::eventually(
        std::time::Duration::from_secs(10),
        async || {
            events.extend(bus.drain().await);
            events.len()
        },
        |n| *n >= 2,
    )
    .await;
    assert_eq!(events.len(), 2, "{events:?}");
    let named = |name: &str| events.iter().find(|e| e["detail"]["name"] == name).cloned();
    assert!(named("nobody").is_some(), "{events:?}");
    let requested = named("reviewer").expect("the reviewer's request");
    assert_eq!(requested["detail-type"], "Sign-in Requested", "{requested}");
    assert_eq!(requested["detail"]["tenant"], "acme");
    assert_eq!(requested["detail"]["name"], "reviewer");
    assert!(!requested.to_string().contains("token"), "{requested}");

    // 2. The notify function, given that event as EventBridge delivered it, sends the link.
    let before = ses_sent().await.len();
    let report = notify.invoke(requested).await.expect("sent");
    assert_eq!(report["delivered"], 2, "{report}");
    let sent = ses_sent().await;
    assert_eq!(sent.len(), before + 1);
    let mail = sent.last().unwrap()["body"].as_str().unwrap().to_owned();
    let prefix = format!("{ORIGIN}/inbox/sign-in?token=");
    let at = mail.find(&prefix).expect("the link") + prefix.len();
    let token = mail[at..at + 43].to_owned();
    let posted = hooks.log().await;
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["verified"], true);
    assert_eq!(
        posted[0]["body"]["data"]["sign_in_url"],
        format!("{prefix}{token}")
    );

    // 3. Following the link (read) shows what it is for and consumes nothing: twice alike.
    for _ in 0..2 {
        let offer = read
            .invoke(get("/inbox/sign-in", &format!("token={token}"), &[]))
            .await
            .expect("a response");
        assert_eq!(offer["statusCode"], 200, "{offer}");
        assert_eq!(field(&page(&offer), "token"), token);
        assert!(set_cookies(&offer).is_empty(), "{offer}");
    }

    // Attacker (login CSRF): the sign-in form sent by another site, as a browser says so or by
    // its Origin alone, signs nobody in and leaves the link unused.
    let mut cross = post("/inbox/sign-in", &format!("token={token}"), &[]);
    cross["headers"]["sec-fetch-site"] = json!("cross-site");
    let mut foreign = post("/inbox/sign-in", &format!("token={token}"), &[]);
    let headers = foreign["headers"].as_object_mut().unwrap();
    headers.remove("sec-fetch-site");
    headers.insert(
        "origin".into(),
        json!("https://holdpoint.example.evil.test"),
    );
    for attempt in [cross, foreign] {
        let refused = decide.invoke(attempt).await.expect("a response");
        assert_eq!(refused["statusCode"], 403, "{refused}");
        assert!(set_cookies(&refused).is_empty(), "{refused}");
    }

    // 4. Signing in (decide): 303 to the inbox, the cookie in the v2 `cookies` array.
    let signed = decide
        .invoke(post("/inbox/sign-in", &format!("token={token}"), &[]))
        .await
        .expect("a response");
    assert_eq!(signed["statusCode"], 303, "{signed}");
    assert_eq!(signed["headers"]["location"], "/inbox", "{signed}");
    let set = set_cookies(&signed);
    assert_eq!(set.len(), 1, "{signed}");
    let (pair, attributes) = set[0].split_once(';').unwrap();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, COOKIE);
    let secret = value
        .strip_prefix("acme~reviewer~")
        .expect("tenant~name~secret");
    assert_eq!(secret.len(), 43, "{pair}");
    for wanted in ["Path=/", "HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(attributes.contains(wanted), "{wanted} in {}", set[0]);
    }
    let max_age: i64 = attributes
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((12 * 3600 - 60..=12 * 3600).contains(&max_age), "{max_age}");
    // The link signs in once.
    let replayed = decide
        .invoke(post("/inbox/sign-in", &format!("token={token}"), &[]))
        .await
        .expect("a response");
    assert_eq!(replayed["statusCode"], 403, "{replayed}");
    assert!(set_cookies(&replayed).is_empty());

    // 5. The inbox (read) with the cookie as API Gateway passes it, beside another site cookie.
    let cookies = vec!["theme=dark".to_owned(), pair.to_owned()];
    let inbox = read
        .invoke(get("/inbox", "", &cookies))
        .await
        .expect("a response");
    assert_eq!(inbox["statusCode"], 200, "{inbox}");
    let listing = page(&inbox);
    assert!(
        listing.contains(&format!("/inbox/approvals/{}", approval.id)),
        "{listing}"
    );
    assert!(
        listing.contains("Rotate the database password"),
        "{listing}"
    );
    assert_eq!(
        inbox["headers"]["cache-control"], "no-store",
        "strict headers"
    );
    let csrf = field(&listing, "csrf");
    // Without the cookie, the same request is the sign-in form and lists nothing.
    let anonymous = read
        .invoke(get("/inbox", "", &[]))
        .await
        .expect("a response");
    assert_eq!(anonymous["statusCode"], 200);
    assert!(!page(&anonymous).contains(&approval.id.to_string()));

    // Attacker: the reviewer's name with a guessed secret is refused and ended; nothing listed.
    let forged = format!("{COOKIE}=acme~reviewer~{}", "A".repeat(43));
    let refused = read
        .invoke(get("/inbox", "", &[forged]))
        .await
        .expect("a response");
    assert_eq!(refused["statusCode"], 401, "{refused}");
    assert!(!page(&refused).contains(&approval.id.to_string()));
    let ended = set_cookies(&refused);
    assert!(
        ended.len() == 1 && ended[0].starts_with(&format!("{COOKIE}=;")),
        "{ended:?}"
    );
    assert!(ended[0].contains("Max-Age=0"), "{ended:?}");

    // Attacker: the decision form with a forged CSRF token decides nothing.
    let path = format!("/inbox/approvals/{}", approval.id);
    let forged_form = decide
        .invoke(post(&path, "csrf=forged&decision=approved", &cookies))
        .await
        .expect("a response");
    assert_eq!(forged_form["statusCode"], 403, "{forged_form}");
    let still = read
        .invoke(get("/inbox", "", &cookies))
        .await
        .expect("a response");
    assert!(page(&still).contains(&path), "still pending");

    // The decision (decide), with the session's CSRF token.
    let form = format!("csrf={csrf}&decision=approved&comment=Checked+in+the+inbox");
    let decided = decide
        .invoke(post(&path, &form, &cookies))
        .await
        .expect("a response");
    assert_eq!(decided["statusCode"], 200, "{decided}");
    assert!(page(&decided).contains("Decision recorded"), "{decided}");
    let after = read
        .invoke(get("/inbox", "", &cookies))
        .await
        .expect("a response");
    assert_eq!(after["statusCode"], 200);
    assert!(!page(&after).contains(&path), "no longer waiting");
    let shown = read
        .invoke(get("/inbox/decided", "", &cookies))
        .await
        .expect("a response");
    assert!(page(&shown).contains(&path), "{shown}");
    let counted = decide
        .metrics()
        .await
        .into_iter()
        .filter(|m| m.get("ApprovalsDecided").is_some())
        .collect::<Vec<_>>();
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(counted[0]["Outcome"], "approved");

    // Signing out (decide) ends the cookie in the browser and the session in the table.
    let out = decide
        .invoke(post("/inbox/sign-out", &format!("csrf={csrf}"), &cookies))
        .await
        .expect("a response");
    assert_eq!(out["statusCode"], 200, "{out}");
    assert!(set_cookies(&out)[0].contains("Max-Age=0"), "{out}");
    let gone = read
        .invoke(get("/inbox", "", &cookies))
        .await
        .expect("a response");
    assert_eq!(gone["statusCode"], 401, "{gone}");
}
