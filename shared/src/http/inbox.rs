//! The reviewer inbox in the browser: sign-in by a link, a session cookie, and what every inbox
//! route shares (the cookie, the CSRF check, the strict headers). The pages themselves are in
//! `inbox_approvals`; their HTML in `inbox_page`.
//!
//! The cookie is `__Host-holdpoint-session` (HttpOnly, Secure, SameSite=Strict, Path=/); only
//! when the public base URL is plain http on a loopback host is it `holdpoint-session` without
//! Secure, since browsers drop Secure cookies there. The review routes never set a cookie.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::extract::read_body;
use super::inbox_page::{self as page, APP_JS};
use super::state::AppState;
use crate::service::ServiceError;
use crate::service::sessions::SignedIn;
use holdpoint_core::domain::request::limits;

const SECURE_COOKIE: &str = "__Host-holdpoint-session";
const LOOPBACK_COOKIE: &str = "holdpoint-session";

/// An inbox page with the review page's strict headers (and its own CSP, which lets the
/// countdown script load from this origin).
pub(super) fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(page::content_security_policy()),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub(super) fn say(status: StatusCode, s: Option<&SignedIn>, title: &str, text: &str) -> Response {
    html(status, page::message(s, title, text))
}

pub(super) fn unavailable(e: &ServiceError) -> Response {
    tracing::warn!(error = %e, "inbox page not served");
    say(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "Try again shortly",
        "Holdpoint is briefly unavailable. Nothing was changed; please try again.",
    )
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.service.session_cookie_secure() {
        SECURE_COOKIE
    } else {
        LOOPBACK_COOKIE
    }
}

/// The `Set-Cookie` value giving the browser `value` for `max_age` seconds (0 ends it).
fn set_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let name = cookie_name(state);
    let secure = if name == SECURE_COOKIE {
        "; Secure"
    } else {
        ""
    };
    let text =
        format!("{name}={value}; Path=/; HttpOnly{secure}; SameSite=Strict; Max-Age={max_age}");
    // Session values are base64url and name characters only; should one ever not be a valid
    // header, no cookie is set (the browser is simply not signed in).
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("x=; Max-Age=0"))
}

fn cookie_value<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h str> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Whether the browser sent a session cookie at all (without one, `/inbox` is the sign-in form).
pub(super) fn has_session_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    cookie_value(state, headers).is_some()
}

/// A form another site made the browser send, refused before it is read, so no site signs a
/// reviewer in as someone else (login CSRF) or asks links in its name. A browser says where a
/// form came from (`Sec-Fetch-Site`, which pages cannot set): only `same-origin` (or `none`, typed
/// by the user) is taken, so a sibling subdomain (`same-site`) is refused too. A browser that
/// does not say must send an `Origin`, if any, that is the service's own. Forms of signed-in
/// pages carry the CSRF token as well.
fn cross_site(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let refuse = || {
        say(
            StatusCode::FORBIDDEN,
            None,
            "Not sent",
            "This form was sent from another site.",
        )
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        let ok = matches!(site.to_str(), Ok("same-origin" | "none"));
        return (!ok).then(refuse);
    }
    let origin = headers.get(header::ORIGIN)?;
    let own = state.service.public_origin()?;
    (origin.to_str().ok() != Some(own.as_str())).then(refuse)
}

/// The session of this browser; otherwise the page to answer instead: the sign-in form (401)
/// when there is no cookie or it no longer signs anyone in (then the cookie is ended too).
pub(super) async fn session(state: &AppState, headers: &HeaderMap) -> Result<SignedIn, Response> {
    let Some(value) = cookie_value(state, headers) else {
        return Err(html(StatusCode::UNAUTHORIZED, page::sign_in_form(None)));
    };
    match state.service.session(value).await {
        Ok(s) => Ok(s),
        Err(ServiceError::Link(_) | ServiceError::NotFound | ServiceError::Invalid(_)) => {
            let mut res = html(
                StatusCode::UNAUTHORIZED,
                page::sign_in_form(Some("Your session has ended. Sign in again.")),
            );
            res.headers_mut()
                .insert(header::SET_COOKIE, set_cookie(state, "", 0));
            Err(res)
        }
        Err(e) => Err(unavailable(&e)),
    }
}

/// The fields of a posted form, in order (`id` may repeat).
pub(super) struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn one(&self, name: &str) -> Option<&str> {
        let mut found = self.0.iter().filter(|(n, _)| n == name);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Some(v),
            _ => None,
        }
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a posted form: url-encoded, within the review form's bound.
pub(super) async fn form(request: Request) -> Result<(HeaderMap, Form), Response> {
    let headers = request.headers().clone();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(say(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "Not sent",
            "Send the form from the inbox page.",
        ));
    }
    let Ok(body) = read_body(request, limits::FORM_BYTES).await else {
        return Err(say(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            "Not sent",
            "The form is too large.",
        ));
    };
    let fields = url::form_urlencoded::parse(&body)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    Ok((headers, Form(fields)))
}

/// A signed-in form: the session, then its CSRF token (missing or not this session's: 403,
/// nothing changes).
pub(super) async fn signed_form(
    state: &AppState,
    request: Request,
) -> Result<(SignedIn, Form), Response> {
    let (headers, form) = form(request).await?;
    let s = session(state, &headers).await?;
    if !form.one("csrf").is_some_and(|t| s.csrf_matches(t)) {
        return Err(say(
            StatusCode::FORBIDDEN,
            Some(&s),
            "Not sent",
            "This form is not from your current session. Reload the page and try again.",
        ));
    }
    Ok((s, form))
}

/// `GET /inbox/app.js`: the countdown, the pages' only script.
pub(super) async fn app_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        APP_JS,
    )
        .into_response()
}

/// The peer a sign-in request came from (its per-address limit): the socket locally, the
/// source address API Gateway saw on AWS.
fn peer(request: &Request) -> Option<IpAddr> {
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        return Some(addr.ip());
    }
    match request
        .extensions()
        .get::<lambda_http::request::RequestContext>()
    {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_deref()?.parse().ok()
        }
        _ => None,
    }
}

/// `POST /inbox`: asks for a sign-in link; the same page whether or not the name exists.
pub(super) async fn request_link(State(state): State<AppState>, request: Request) -> Response {
    if let Some(refused) = cross_site(&state, request.headers()) {
        return refused;
    }
    let peer = peer(&request);
    let (_, form) = match form(request).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let (Some(tenant), Some(name)) = (form.one("tenant"), form.one("name")) else {
        return html(
            StatusCode::BAD_REQUEST,
            page::sign_in_form(Some("Give a tenant and your name.")),
        );
    };
    match state
        .service
        .request_sign_in(tenant.trim(), name.trim(), peer)
        .await
    {
        Ok(()) => html(
            StatusCode::OK,
            page::sign_in_form(Some(
                "If that name is a reviewer with a channel, a sign-in link is on its way. \
                 It works once, for 15 minutes.",
            )),
        ),
        Err(ServiceError::Invalid(_)) => html(
            StatusCode::UNPROCESSABLE_ENTITY,
            page::sign_in_form(Some(
                "Names are 1 to 64 letters, digits, '.', '_', '@' or '-'.",
            )),
        ),
        Err(ServiceError::RateLimited {
            retry_after_seconds,
        }) => {
            let mut res = html(
                StatusCode::TOO_MANY_REQUESTS,
                page::sign_in_form(Some(&format!(
                    "Too many sign-in requests. Try again in {retry_after_seconds} s."
                ))),
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            res
        }
        Err(e) => unavailable(&e),
    }
}

#[derive(Deserialize)]
pub(super) struct LinkQuery {
    token: Option<String>,
}

/// Every sign-in link that signs nobody in (unknown, used, expired, missing): 403, telling no
/// more than that it is not valid now.
fn link_not_valid() -> Response {
    say(
        StatusCode::FORBIDDEN,
        None,
        "Link not valid",
        "This sign-in link is not valid: it was used, or it has expired. Ask for a new one from the inbox.",
    )
}

/// `GET /inbox/sign-in?token=…`: what the link is for, and a button; consumes nothing.
pub(super) async fn open_link(
    State(state): State<AppState>,
    query: Result<Query<LinkQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(token) = query.ok().and_then(|Query(q)| q.token) else {
        return link_not_valid();
    };
    match state.service.open_sign_in(&token).await {
        Ok(offer) => html(
            StatusCode::OK,
            page::confirm_sign_in(&offer.tenant, &offer.name, &token),
        ),
        Err(ServiceError::Link(_) | ServiceError::NotFound | ServiceError::Invalid(_)) => {
            link_not_valid()
        }
        Err(e) => unavailable(&e),
    }
}

/// `POST /inbox/sign-in`: consumes the link once, sets the cookie, on to the inbox.
pub(super) async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    if let Some(refused) = cross_site(&state, request.headers()) {
        return refused;
    }
    let (_, form) = match form(request).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let Some(token) = form.one("token") else {
        return link_not_valid();
    };
    match state.service.sign_in(token).await {
        Ok((cookie, signed)) => {
            let age = (signed.expires_at - chrono::Utc::now())
                .num_seconds()
                .max(1);
            let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, "/inbox")]).into_response();
            res.headers_mut()
                .insert(header::SET_COOKIE, set_cookie(&state, &cookie, age));
            res
        }
        Err(ServiceError::Link(_) | ServiceError::NotFound | ServiceError::Invalid(_)) => {
            link_not_valid()
        }
        Err(e) => unavailable(&e),
    }
}

/// `POST /inbox/sign-out`: ends the session here and in the store.
pub(super) async fn sign_out(State(state): State<AppState>, request: Request) -> Response {
    let (headers, form) = match form(request).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    // Signing out needs the CSRF token too: another site must not end a reviewer's session.
    let s = match session(&state, &headers).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if !form.one("csrf").is_some_and(|t| s.csrf_matches(t)) {
        return say(
            StatusCode::FORBIDDEN,
            Some(&s),
            "Not sent",
            "This form is not from your current session. Reload the page and try again.",
        );
    }
    if let Some(value) = cookie_value(&state, &headers)
        && let Err(e) = state.service.sign_out(value).await
    {
        return unavailable(&e);
    }
    let mut res = html(
        StatusCode::OK,
        page::sign_in_form(Some("You are signed out.")),
    );
    res.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state, "", 0));
    res
}
