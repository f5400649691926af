//! The login page. The form posts to `auth::login`, which refuses posts from other
//! sites and sends the browser on only to a path on this site (`auth::next_path`).

use askama::Template;
use axum::extract::Query;
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
