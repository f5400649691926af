//! Who is calling: bearer tokens, browser sessions with CSRF tokens, receiver
//! credentials, and the role extractors handlers declare their needs with.
//!
//! The [`authenticate`] middleware runs before every API and UI handler: it turns a
//! bearer token or a session cookie into a [`Caller`] in the request's extensions, and
//! refuses a mutating cookie-authenticated request without the session's CSRF token
//! (header `X-CSRF-Token` or form field `csrf`). Handlers then take [`Viewer`],
//! [`Responder`], [`Commander`] or [`Admin`] (401 without a caller, 403 below the role),
//! or [`Caller`] / `Option<Caller>` for pages anyone may see.

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sitrep_app::AccessRole;
use sitrep_app::tokens::secret_sha256;

use crate::ServerState;
use crate::error::{ApiError, ApiResult, body_bytes};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sitrep_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The address of the client a request came from (the TCP peer: behind a reverse
/// proxy, the proxy's), put in each request's extensions by the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The request's client address, when it came through [`crate::serve`].
#[must_use]
pub fn client_addr(ext: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    ext.get::<ClientAddr>().map(|c| c.0)
}

/// How a caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer <token>`.
    Token,
    /// A browser session cookie; mutating requests must carry `csrf`.
    Session {
        /// The session's CSRF token.
        csrf: String,
    },
}

/// An authenticated caller. `name` is the token's name and is what the timeline
/// records as the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's id: the principal id two-person control compares.
    pub id: String,
    /// The token's name.
    pub name: String,
    /// The token's role.
    pub role: AccessRole,
    /// Token or session.
    pub via: Via,
}

impl Caller {
    /// Who is calling, as the app compares people: the token's id and name.
    #[must_use]
    pub fn principal(&self) -> sitrep_app::Principal {
        sitrep_app::Principal {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }

    /// Whether the caller has at least `role`.
    #[must_use]
    pub fn can(&self, role: AccessRole) -> bool {
        self.role >= role
    }

    /// 403 unless the caller has at least `role`.
    pub fn require(&self, role: AccessRole) -> ApiResult<()> {
        if self.can(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "forbidden",
                format!(
                    "this needs role {role} or above; {} is {}",
                    self.name, self.role
                ),
            )
            .with("required_role", role.as_str()))
        }
    }
}

/// The CSRF token a page must put in its forms (`csrf` field) or send as
/// `X-CSRF-Token`; `None` for bearer-token callers, who need none.
#[must_use]
pub fn csrf_token(caller: &Caller) -> Option<&str> {
    match &caller.via {
        Via::Session { csrf } => Some(csrf),
        Via::Token => None,
    }
}

/// Equality whose time does not depend on where the inputs differ, for secrets.
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(AUTHORIZATION)?;
    let text = value.to_str().map_err(|_| ());
    Some(text.and_then(|t| {
        let (scheme, rest) = t.split_once(' ').ok_or(())?;
        if scheme.eq_ignore_ascii_case("bearer") {
            Ok(rest.trim())
        } else {
            Err(())
        }
    }))
}

/// The value of cookie `name`.
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware: resolves the caller (if any) into the request's extensions and enforces
/// CSRF on cookie-authenticated mutations. Requests without credentials pass through
/// anonymous; the role extractors answer 401 for them.
pub async fn authenticate(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    match resolve(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn resolve(state: &ServerState, mut req: Request) -> ApiResult<Request> {
    if let Some(presented) = bearer(req.headers()) {
        // An explicit but wrong credential is refused outright rather than treated as
        // anonymous, so a typo does not silently show a login page to a script.
        let ip = client_addr(req.extensions());
        state.guessing().check(state, "bearer", ip)?;
        let Ok(secret) = presented else {
            state.guessing().failed(state, "bearer", ip);
            return Err(ApiError::unauthorized("malformed Authorization header"));
        };
        let Some((token, role)) = state.app().authenticate(secret).await? else {
            state.guessing().failed(state, "bearer", ip);
            return Err(ApiError::unauthorized("unknown or revoked token"));
        };
        req.extensions_mut().insert(Caller {
            id: token.id,
            name: token.name,
            role,
            via: Via::Token,
        });
        return Ok(req);
    }
    let Some(id) = cookie(req.headers(), SESSION_COOKIE).map(str::to_owned) else {
        return Ok(req);
    };
    // Unknown, expired or revoked: anonymous, so pages show the login form again.
    let Some(session) = state.app().session(&id).await? else {
        return Ok(req);
    };
    if !is_safe(req.method()) {
        let (checked, ok) = check_csrf(state, req, &session.csrf).await?;
        req = checked;
        if !ok {
            // An acknowledge link's signed token is its own authority: posted without
            // the session's CSRF token (the page was opened from a mail, where the
            // SameSite cookie was not sent), it acts as the link, not as the session.
            if req.uri().path().starts_with("/ack/") {
                return Ok(req);
            }
            return Err(ApiError::forbidden(
                "csrf",
                "missing or wrong CSRF token: send the X-CSRF-Token header or the csrf form field",
            ));
        }
    }
    req.extensions_mut().insert(Caller {
        id: session.token_id,
        name: session.name,
        role: session.role,
        via: Via::Session { csrf: session.csrf },
    });
    Ok(req)
}

/// Whether the request's `X-CSRF-Token` header or its form field `csrf` matches; the
/// form body is read and put back for the handler.
async fn check_csrf(
    state: &ServerState,
    req: Request,
    expected: &str,
) -> ApiResult<(Request, bool)> {
    if let Some(h) = req.headers().get(CSRF_HEADER) {
        let ok = ct_eq(h.as_bytes(), expected.as_bytes());
        return Ok((req, ok));
    }
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((req, false));
    }
    let (parts, body) = req.into_parts();
    let limited = Request::from_parts(parts.clone(), body);
    let bytes = body_bytes(limited, state).await?;
    let found = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .is_some_and(|(_, v)| ct_eq(v.as_bytes(), expected.as_bytes()));
    Ok((Request::from_parts(parts, Body::from(bytes)), found))
}

fn caller_from(parts: &Parts) -> ApiResult<Caller> {
    parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
        ApiError::unauthorized("authentication required: send Authorization: Bearer <token>")
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        caller_from(parts)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned())
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;
            async fn from_request_parts(
                parts: &mut Parts,
                _: &S,
            ) -> Result<Self, Self::Rejection> {
                let caller = caller_from(parts)?;
                caller.require($role)?;
                Ok($name(caller))
            }
        }
    };
}

role_extractor!(
    /// A caller with role viewer or above (every read).
    Viewer,
    AccessRole::Viewer
);
role_extractor!(
    /// A caller with role responder or above (incident actions, runs, checklist).
    Responder,
    AccessRole::Responder
);
role_extractor!(
    /// A caller with role commander or above (severity, roles, resolve, reopen,
    /// approvals, silences).
    Commander,
    AccessRole::Commander
);
role_extractor!(
    /// A caller with role admin (tokens).
    Admin,
    AccessRole::Admin
);

/// The login form.
#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    /// An API token.
    pub token: String,
    /// Where to go after login (a local path).
    #[serde(default)]
    pub next: Option<String>,
}

fn session_cookie(state: &ServerState, value: &str, max_age: u64) -> HeaderValue {
    let secure = state
        .app()
        .config()
        .server
        .base_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where a login goes when it was given no `next`, or one that is not a path here.
pub const AFTER_LOGIN: &str = "/incidents";

/// `next` when it is a path on this site, else [`AFTER_LOGIN`]. Refused: anything not
/// starting with exactly one `/` (`//evil` and `/\evil` are other hosts to a browser;
/// `https:` and `javascript:` are not paths), backslashes, and anything but visible
/// ASCII: browsers drop tabs and newlines inside a URL, so `/<TAB>/evil` becomes
/// `//evil`. Once percent-decoded it still needs one leading `/` and no control or
/// backslash (`/%09/evil`, `/%2F%2Fevil`), because the value is decoded again on its
/// way through `/login?next=` and any proxy.
#[must_use]
pub fn next_path(next: Option<&str>) -> &str {
    match next {
        Some(p) if is_local_path(p) => p,
        _ => AFTER_LOGIN,
    }
}

fn is_local_path(p: &str) -> bool {
    let decoded = percent_decoded(p);
    // Decoded, `%20` and UTF-8 are fine; controls and backslashes are not.
    let visible = p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let harmless = decoded.iter().all(|b| !b.is_ascii_control() && *b != b'\\');
    visible && harmless && one_leading_slash(p.as_bytes()) && one_leading_slash(&decoded)
}

fn one_leading_slash(p: &[u8]) -> bool {
    p.first() == Some(&b'/') && !matches!(p.get(1), Some(b'/' | b'\\'))
}

/// `s` with every `%XX` decoded once (bytes, not necessarily UTF-8).
fn percent_decoded(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let byte = (b[i] == b'%')
            .then(|| b.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| hex::decode(h).ok());
        match byte {
            Some(d) => {
                out.extend(d);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

/// Why a login post is refused as cross-site, or `None` when it may log in.
///
/// Login CSRF (another site posting its own token to `/login`) would put the victim's
/// browser in the attacker's session, so what they do is recorded as the attacker and
/// what they type is seen by them. The browser says where a request comes from:
/// `Sec-Fetch-Site` (sent to https and loopback origins) must be `same-origin` (or
/// `none`, typed by the user); without it, `Origin` must name this server (its `Host`,
/// or `base_url` behind a proxy). `Origin: null` is refused: sandboxed frames and pages
/// with `Referrer-Policy: no-referrer` send it, which is why sitrep's own pages use
/// `same-origin` (`ui::headers`). A request with neither header is not from a browser that
/// could be tricked (curl, scripts) and may log in.
#[must_use]
pub fn cross_site_login(headers: &HeaderMap, base_url: Option<&str>) -> Option<&'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return match site.to_ascii_lowercase().as_str() {
            "same-origin" | "none" => None,
            _ => Some("the login form was posted from another site"),
        };
    }
    let origin = text("origin")?;
    let host = text("host").unwrap_or_default();
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    let same = (!host.is_empty() && authority.eq_ignore_ascii_case(host))
        || base_url
            .and_then(origin_of)
            .is_some_and(|own| own.eq_ignore_ascii_case(origin));
    (!same).then_some("the login form was posted from another origin")
}

/// `scheme://host[:port]` of a URL, as browsers write it in `Origin`.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.find('/').unwrap_or(rest.len());
    url.get(..scheme.len() + 3 + authority)
}

/// `POST /login` (form `token`, optional `next`): opens a session and redirects.
///
/// A wrong token answers 401 JSON, or, for a browser (`Accept: text/html`), a 303 back
/// to `/login?failed=1&next=...` so the UI's login page can say so.
pub async fn login(State(state): State<ServerState>, req: Request) -> ApiResult<Response> {
    let base_url = state.app().config().server.base_url.as_deref();
    if let Some(why) = cross_site_login(req.headers(), base_url) {
        tracing::warn!(why, "login refused");
        return Err(ApiError::forbidden(
            "csrf",
            format!("{why}: log in on this server's own /login page"),
        ));
    }
    let ip = client_addr(req.extensions());
    state.guessing().check(&state, "login", ip)?;
    let browser = req
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let bytes = body_bytes(req, &state).await?;
    let form: LoginForm = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| ApiError::invalid("token", format!("a form with a token field: {e}")))?;
    let Some((token, role)) = state.app().authenticate(form.token.trim()).await? else {
        state.guessing().failed(&state, "login", ip);
        if browser {
            let next: String =
                form_urlencoded::byte_serialize(next_path(form.next.as_deref()).as_bytes())
                    .collect();
            let mut resp = StatusCode::SEE_OTHER.into_response();
            resp.headers_mut().insert(
                LOCATION,
                HeaderValue::from_str(&format!("/login?failed=1&next={next}"))
                    .unwrap_or_else(|_| HeaderValue::from_static("/login?failed=1")),
            );
            return Ok(resp);
        }
        return Err(ApiError::unauthorized("unknown or revoked token"));
    };
    let ttl = state.app().config().server.session_ttl.as_secs();
    let ttl_ms = i64::try_from(ttl.saturating_mul(1000)).unwrap_or(i64::MAX);
    let (id, _) = state.app().open_session(&token, role, ttl_ms).await?;
    tracing::info!(name = %token.name, role = %role, "browser login");
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    h.insert(SET_COOKIE, session_cookie(&state, &id, ttl));
    h.insert(
        LOCATION,
        HeaderValue::from_str(next_path(form.next.as_deref()))
            .unwrap_or_else(|_| HeaderValue::from_static(AFTER_LOGIN)),
    );
    Ok(resp)
}

/// `POST /logout`: ends the session (CSRF-checked like any mutation) and redirects.
pub async fn logout(
    State(state): State<ServerState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let (Via::Session { .. }, Some(id)) = (&caller.via, cookie(&headers, SESSION_COOKIE)) {
        state.app().close_session(id).await?;
        state.streams().end_session(id);
    }
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    h.insert(SET_COOKIE, session_cookie(&state, "", 0));
    h.insert(LOCATION, HeaderValue::from_static("/"));
    Ok(resp)
}

/// Whether a receiver request carries the configured receiver token or basic auth, or
/// an API token of role responder or above.
pub async fn receiver_allowed(
    state: &ServerState,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
) -> ApiResult<()> {
    state.guessing().check(state, "bearer", ip)?;
    let result = receiver_credential(state, headers).await;
    if matches!(&result, Err(e) if e.status == StatusCode::UNAUTHORIZED) {
        state.guessing().failed(state, "bearer", ip);
    }
    result
}

async fn receiver_credential(state: &ServerState, headers: &HeaderMap) -> ApiResult<()> {
    let cfg = &state.app().config().server.receivers;
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::unauthorized(
            "receivers need the configured bearer token, basic auth, or an API token",
        ));
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let ok = cfg.basic.as_deref().is_some_and(|expected| {
            base64::engine::general_purpose::STANDARD
                .decode(rest)
                .is_ok_and(|d| ct_eq(&d, expected.as_bytes()))
        });
        return if ok {
            Ok(())
        } else {
            Err(ApiError::unauthorized("wrong basic auth"))
        };
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized("unsupported Authorization scheme"));
    }
    if cfg
        .token
        .as_deref()
        .is_some_and(|t| ct_eq(t.as_bytes(), rest.as_bytes()))
    {
        return Ok(());
    }
    match state.app().authenticate(rest).await? {
        Some((_, role)) if role >= AccessRole::Responder => Ok(()),
        Some((t, role)) => Err(ApiError::forbidden(
            "forbidden",
            format!(
                "sending alerts needs role responder or above; {} is {role}",
                t.name
            ),
        )),
        None => Err(ApiError::unauthorized("unknown or revoked token")),
    }
}

/// Hashes a presented secret the way tokens are stored (re-exported for the UI).
#[must_use]
pub fn token_hash(secret: &str) -> String {
    secret_sha256(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_keeps_paths_on_this_site() {
        for good in [
            "/incidents",
            "/incidents/3",
            "/incidents?status=all&severity=sev1",
            "/runbooks/db/failover.md",
            "/incidents/3?flash=a%20b",
        ] {
            assert_eq!(next_path(Some(good)), good);
        }
    }

    #[test]
    fn next_refuses_every_way_off_site() {
        for hostile in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%09/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/%0a/evil.example",
            "/%0D/evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/%5c%5cevil.example",
            "https://evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " /incidents",
            "/incidents\u{0}",
            "/inc\u{7f}idents",
            "/ünïcode",
            "evil.example",
            "",
        ] {
            assert_eq!(next_path(Some(hostile)), AFTER_LOGIN, "{hostile:?}");
        }
        assert_eq!(next_path(None), AFTER_LOGIN);
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn login_from_this_site_or_a_script_passes() {
        let base = Some("https://sitrep.example.com/");
        for ok in [
            headers(&[("sec-fetch-site", "same-origin")]),
            headers(&[("sec-fetch-site", "none")]),
            headers(&[
                ("origin", "http://10.0.0.5:8080"),
                ("host", "10.0.0.5:8080"),
            ]),
            // Behind a proxy that rewrites Host, base_url names the site.
            headers(&[
                ("origin", "https://sitrep.example.com"),
                ("host", "127.0.0.1:8080"),
            ]),
            // curl, scripts: no browser to trick.
            headers(&[("host", "10.0.0.5:8080")]),
        ] {
            assert_eq!(cross_site_login(&ok, base), None, "{ok:?}");
        }
    }

    #[test]
    fn login_posted_from_elsewhere_is_refused() {
        let base = Some("https://sitrep.example.com");
        for bad in [
            headers(&[("sec-fetch-site", "cross-site")]),
            // A sibling subdomain may be someone else's.
            headers(&[("sec-fetch-site", "same-site")]),
            // Fetch metadata wins over an Origin that looks right.
            headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://10.0.0.5:8080"),
                ("host", "10.0.0.5:8080"),
            ]),
            headers(&[
                ("origin", "https://evil.example"),
                ("host", "10.0.0.5:8080"),
            ]),
            headers(&[("origin", "null"), ("host", "10.0.0.5:8080")]),
            headers(&[("origin", "https://sitrep.example.com.evil.example")]),
            headers(&[("origin", "https://sitrep.example")]),
            headers(&[
                ("origin", "http://10.0.0.5:80800"),
                ("host", "10.0.0.5:8080"),
            ]),
        ] {
            assert!(cross_site_login(&bad, base).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; sitrep_session=xyz; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
