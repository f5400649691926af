//! Security headers on every response: what the browser may load and run on sitrep's
//! pages, that no other site may frame them, and that no URL leaks to other sites.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The Content-Security-Policy. Scripts and styles come only from `/assets` (no inline
/// `<script>`, `<style>`, `style=` or `hx-on`; htmx runs with eval and its injected
/// indicator styles turned off by the `htmx-config` meta tag), so an injected tag does
/// nothing. `connect-src` covers htmx and the live event stream; `form-action` keeps
/// forms, and the redirects after them, on this site.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'";

/// `same-origin`, not `no-referrer`: both keep incident URLs from other sites, but under
/// `no-referrer` browsers send `Origin: null` on the page's own form posts, and the
/// login's cross-site check (`auth::cross_site_login`) needs the real origin on plain
/// http, where browsers send no `Sec-Fetch-Site`.
pub const REFERRER_POLICY: &str = "same-origin";

/// Every header this layer sets, for the middleware and the tests.
pub const HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", CSP),
    // Old browsers ignore CSP's frame-ancestors.
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", REFERRER_POLICY),
];

/// Middleware: adds [`HEADERS`] to every response that does not set its own.
pub async fn secure(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in HEADERS {
        h.entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
    resp
}
