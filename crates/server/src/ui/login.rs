//! The login page. The form posts to `auth::login`, which refuses posts from other
//! sites and sends the browser on only to a path on this site (`auth::next_path`).

use askama::Template;
use axum::extract::{Query, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, Page, html};
use crate::auth::next_path;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTpl {
    chrome: Chrome,
    error: String,
    /// Where to go after logging in; always a checked local path.
    next: String,
}

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    /// Set by `auth::login` when the token was wrong.
    #[serde(default)]
    failed: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// `GET /login[?failed=1][&next=PATH]`.
pub(super) async fn page(Query(q): Query<LoginQuery>) -> Page {
    let error = if q.failed.is_some() {
        "That token is not valid.".to_owned()
    } else {
        String::new()
    };
    html(&LoginTpl {
        chrome: Chrome::default(),
        error,
        next: next_path(q.next.as_deref()).to_owned(),
    })
}

/// Marks a page's answer "log in first"; [`keep_next`] adds where to come back to.
#[derive(Clone, Copy)]
pub(super) struct NeedsLogin;

/// Middleware: a page that needs a login sends the browser to `/login?next=THIS_PAGE`,
/// so a deep link (from a page, a chat message) survives logging in. Only for a full
/// page load (a GET, not an htmx fragment); `auth::login` checks `next` again.
pub(super) async fn keep_next(req: Request, next: Next) -> Response {
    let back = (req.method() == Method::GET && !req.headers().contains_key("hx-request"))
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
        .flatten();
    let mut resp = next.run(req).await;
    let Some(back) = back else { return resp };
    if resp.extensions().get::<NeedsLogin>().is_none() {
        return resp;
    }
    let to = format!("/login?next={}", super::enc(next_path(Some(&back))));
    if let Ok(v) = HeaderValue::from_str(&to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
