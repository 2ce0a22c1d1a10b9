//! `POST /slack/interactions?tenant=…`: clicks in Slack messages and the reject modal's
//! submissions, from each tenant's own Slack app (its interactivity URL names the tenant).
//!
//! Nothing of the request is believed before its Slack signature verified with that tenant's
//! signing secret: a missing, stale, future or wrong signature, an unknown tenant or one with
//! no Slack app all get the same `401 slack_signature`, with nothing else read or changed and
//! no call to Slack. Then the body is parsed (malformed: 400) and acted on by the service
//! ([`crate::service::slack`]); Slack is answered 200 whatever the click came to (a refused
//! click is told in the clicker's message), within Slack's 3 seconds.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};

use super::extract::read_body;
use super::problem::Problem;
use super::state::AppState;
pub use holdpoint_core::domain::request::limits::SLACK_BODY_BYTES as BODY_BYTES;

fn unsigned() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "slack_signature",
        "the request is not signed by this tenant's Slack app",
    )
}

/// The `tenant` query parameter, once, as a name could be; else `None`.
fn tenant_of(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or("")).ok()?;
    let mut tenants = pairs.into_iter().filter(|(k, _)| k == "tenant");
    match (tenants.next(), tenants.next()) {
        (Some((_, t)), None)
            if holdpoint_core::domain::identity::check_principal_name("tenant", &t).is_ok() =>
        {
            Some(t)
        }
        _ => None,
    }
}

pub(super) async fn interactions(State(state): State<AppState>, request: Request) -> Response {
    let tenant = tenant_of(request.uri().query());
    let headers = request.headers().clone();
    let Ok(body) = read_body(request, BODY_BYTES).await else {
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body must be at most {BODY_BYTES} bytes"),
        )
        .into_response();
    };
    let Some(tenant) = tenant else {
        return unsigned().into_response();
    };
    interact(&state, &tenant, &headers, &body).await
}

#[cfg(not(feature = "delivery"))]
async fn interact(_: &AppState, _: &str, _: &HeaderMap, _: &[u8]) -> Response {
    // Built without Slack: no app is connected, so no request is signed by one.
    unsigned().into_response()
}

#[cfg(feature = "delivery")]
async fn interact(state: &AppState, tenant: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    use crate::slack::{interaction, signature};
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let connection = match state.service.slack_connection(tenant).await {
        Ok(Some(c)) => c,
        Ok(None) => return unsigned().into_response(),
        Err(e) => return Problem::from(e).into_response(),
    };
    let verified = signature::verify(
        &connection.signing_secret,
        header_text(signature::TIMESTAMP_HEADER),
        header_text(signature::SIGNATURE_HEADER),
        body,
        chrono::Utc::now(),
    );
    if let Err(refused) = verified {
        tracing::info!(%tenant, reason = %refused, "Slack interaction refused");
        return unsigned().into_response();
    }
    let form = header_text(http::header::CONTENT_TYPE.as_str())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/x-www-form-urlencoded",
        )
        .into_response();
    }
    let parsed = match interaction::parse(body) {
        Ok(i) => i,
        Err(e) => return Problem::bad_request("invalid_payload", e.to_string()).into_response(),
    };
    match state.service.slack_interaction(connection, parsed).await {
        Some(answer) => axum::Json(answer).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::tenant_of;

    #[test]
    fn the_tenant_is_named_once_and_as_a_name() {
        assert_eq!(tenant_of(Some("tenant=acme")), Some("acme".into()));
        assert_eq!(tenant_of(Some("x=1&tenant=acme")), Some("acme".into()));
        for bad in [
            None,
            Some(""),
            Some("tenant="),
            Some("tenant=a&tenant=b"),
            Some("tenant=a%20b"),
            Some("tenant=%ZZ"),
            Some("other=acme"),
        ] {
            assert_eq!(tenant_of(bad), None, "{bad:?}");
        }
    }
}
