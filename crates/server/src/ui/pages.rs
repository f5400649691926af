//! Pages outside an incident: the postmortem (page with its blanks to write, and the
//! Markdown download), the runbook library and one runbook, and the ledger's status.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sitrep_app::AccessRole as Role;
use sitrep_app::AppError;

use super::{Chrome, Page, StepView, chrome, enc, html, need, user};
use crate::ServerState;
use crate::auth::Caller;

#[derive(Template)]
#[template(path = "postmortem.html")]
struct PostmortemTpl {
    chrome: Chrome,
    number: i64,
    /// The Markdown rendered to HTML, with any raw HTML in it escaped.
    rendered: String,
    /// The headed blanks (key, heading, text as last written), when the viewer may
    /// write them (responder and up); a reason otherwise.
    blanks: Vec<(&'static str, &'static str, String)>,
    can_edit: bool,
    max_blank: usize,
    flash: String,
}

/// `markdown` as HTML. Raw HTML in it (from a note, a title, a command's output) is
/// shown as text, never passed through: the post-mortem quotes what people and
/// programs typed. Links keep only http(s), mailto and relative targets.
pub(super) fn render_markdown(markdown: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
    let safe = |url: CowStr<'_>| -> CowStr<'static> {
        let lower = url.trim().to_ascii_lowercase();
        let scheme = lower.split_once(':').map(|(s, _)| s);
        let ok = match scheme {
            Some(s) => matches!(s, "http" | "https" | "mailto") || s.contains('/'),
            None => true,
        };
        CowStr::from(if ok { url.into_string() } else { String::new() })
    };
    let events =
        Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS).map(|e| {
            match e {
                Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
                // A tick as text: a disabled checkbox without a label is a form control
                // screen readers announce with no name.
                Event::TaskListMarker(done) => {
                    Event::Text(CowStr::from(if done { "☑ " } else { "☐ " }))
                }
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) => Event::Start(Tag::Link {
                    link_type,
                    dest_url: safe(dest_url),
                    title,
                    id,
                }),
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) => Event::Start(Tag::Image {
                    link_type,
                    dest_url: safe(dest_url),
                    title,
                    id,
                }),
                other => other,
            }
        });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

pub(super) async fn postmortem_page(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Query(q): Query<super::incident::FlashQuery>,
) -> Page {
    let c = user(c)?;
    let inc = st.app().incident(&n).await?;
    let markdown = st.app().postmortem(&inc.id).await?;
    let can_edit = c.role >= Role::Responder;
    html(&PostmortemTpl {
        chrome: chrome(&c),
        number: inc.number,
        rendered: render_markdown(&markdown),
        blanks: if can_edit {
            st.app().postmortem_blanks(&inc.id).await?
        } else {
            Vec::new()
        },
        can_edit,
        max_blank: sitrep_app::postmortem_edits::MAX_BLANK,
        flash: q.flash,
    })
}

#[derive(Deserialize)]
pub(super) struct BlankForm {
    #[serde(default)]
    text: String,
}

/// Saves one blank of the post-mortem, back to the page (at that blank), or with the
/// reason when refused.
pub(super) async fn postmortem_edit(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path((n, section)): Path<(String, String)>,
    Form(f): Form<BlankForm>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let page = format!("/incidents/{n}/postmortem");
    match st
        .app()
        .edit_postmortem(&n, &section, &f.text, &c.principal())
        .await
    {
        Ok(_) => {
            st.changed();
            Ok(Redirect::to(&format!("{page}#blank-{section}")).into_response())
        }
        Err(e) if e.is_caller_error() => {
            Ok(Redirect::to(&format!("{page}?flash={}", enc(&e.to_string()))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn postmortem_md(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
) -> Page {
    user(c)?;
    let inc = st.app().incident(&n).await?;
    let markdown = st.app().postmortem(&inc.id).await?;
    let disposition = format!("attachment; filename=\"postmortem-{}.md\"", inc.number);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/markdown; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        markdown,
    )
        .into_response())
}

struct RunbookRow {
    path: String,
    service: String,
    alerts: String,
    steps: usize,
    errors: usize,
    warnings: usize,
}

#[derive(Template)]
#[template(path = "runbooks.html")]
struct RunbooksTpl {
    chrome: Chrome,
    runbooks: Vec<RunbookRow>,
    unreadable: Vec<(String, String)>,
}

pub(super) async fn runbooks(State(st): State<ServerState>, c: Option<Caller>) -> Page {
    let c = user(c)?;
    let lib = st.app().library();
    let runbooks = lib
        .entries()
        .iter()
        .map(|e| RunbookRow {
            path: e.path.clone(),
            service: e
                .runbook
                .front_matter
                .as_ref()
                .and_then(|f| f.service.clone())
                .unwrap_or_default(),
            alerts: e.runbook.alerts_handled().join(", "),
            steps: e.runbook.steps.len(),
            errors: e
                .diagnostics
                .iter()
                .filter(|d| d.severity == sitrep_runbook::Severity::Error)
                .count(),
            warnings: e
                .diagnostics
                .iter()
                .filter(|d| d.severity == sitrep_runbook::Severity::Warning)
                .count(),
        })
        .collect();
    html(&RunbooksTpl {
        chrome: chrome(&c),
        runbooks,
        unreadable: lib.unreadable.clone(),
    })
}

struct DiagView {
    severity: String,
    line: usize,
    code: String,
    message: String,
}

#[derive(Template)]
#[template(path = "runbook.html")]
struct RunbookTpl {
    chrome: Chrome,
    path: String,
    title: String,
    diagnostics: Vec<DiagView>,
    steps: Vec<StepView>,
    references: Vec<ReferenceView>,
}

/// A block the runbook shows that is not a shell step (YAML, a query, log output).
struct ReferenceView {
    kind: String,
    query: bool,
    line: usize,
    text: String,
}

pub(super) async fn runbook(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(path): Path<String>,
) -> Page {
    let c = user(c)?;
    let lib = st.app().library();
    let e = lib.get(&path).ok_or(AppError::NotFound {
        what: "runbook",
        id: path.clone(),
    })?;
    let steps = StepView::all(&e.path, &e.runbook.steps);
    let diagnostics = e
        .diagnostics
        .iter()
        .map(|d| DiagView {
            severity: format!("{:?}", d.severity).to_lowercase(),
            line: d.line,
            code: d.code.to_owned(),
            message: d.message.clone(),
        })
        .collect();
    let references = e
        .runbook
        .references
        .iter()
        .map(|r| ReferenceView {
            kind: r.kind.clone(),
            query: r.query,
            line: r.line,
            text: r.text.clone(),
        })
        .collect();
    html(&RunbookTpl {
        chrome: chrome(&c),
        path: e.path.clone(),
        title: e.runbook.title.clone().unwrap_or_else(|| e.path.clone()),
        diagnostics,
        steps,
        references,
    })
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerTpl {
    chrome: Chrome,
    tree_size: u64,
    checkpoint: String,
    checkpoint_size: u64,
    checkpoint_age: String,
    verifier: String,
    /// Every key of the log, oldest first: (verifier key, how it came, current).
    keys: Vec<(String, String, bool)>,
}

pub(super) async fn ledger(State(st): State<ServerState>, c: Option<Caller>) -> Page {
    let c = user(c)?;
    let s = st.app().ledger_status().await?;
    let keys = st
        .app()
        .key_history()
        .await?
        .into_iter()
        .map(|k| {
            let how = match (k.since_index, k.rotated_by) {
                (Some(i), Some(by)) => format!("since entry #{i}, rotated by {by}"),
                _ => "the log's first key".to_owned(),
            };
            (k.verifier_key, how, k.current)
        })
        .collect();
    let (checkpoint, checkpoint_size, checkpoint_age) = match &s.checkpoint {
        Some(cp) => (
            cp.signed_note.clone(),
            cp.size,
            format!(
                "signed {}s ago",
                (sitrep_app::now_ms() - cp.created_ms).max(0) / 1000
            ),
        ),
        None => (String::new(), 0, String::new()),
    };
    html(&LedgerTpl {
        chrome: chrome(&c),
        tree_size: s.tree_size,
        checkpoint,
        checkpoint_size,
        checkpoint_age,
        verifier: s.verifier_key,
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::render_markdown;

    #[test]
    fn markdown_renders_and_raw_html_is_text() {
        let html = render_markdown(
            "# Post-mortem\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n\n\
             <script>alert(1)</script> and <b onclick=\"x()\">bold</b>\n\n\
             [ok](https://example.com) [bad](javascript:alert(1)) [rel](/incidents/1)\n",
        );
        assert!(html.contains("<h1>Post-mortem</h1>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<li>☑ done</li>"), "{html}");
        assert!(!html.contains("<input"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(html.contains("href=\"/incidents/1\""), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }
}
