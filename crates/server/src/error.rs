//! The one HTTP error type, and the body extractors that produce it.
//!
//! Every failure answers `{"error": {"code", "message", "field", ...}}`; `AppError` is
//! mapped to a status once, here, so a handler never picks a status by hand for a use
//! case's refusal.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use sitrep_app::store::StoreError;
use sitrep_app::{AppError, ErrorKind};

/// An HTTP error: status, a stable `code`, a sentence, the field it is about (if any)
/// and extra members (the display to confirm, the open checklist items, ...).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code clients may match on.
    pub code: &'static str,
    /// A sentence for a person.
    pub message: String,
    /// The request field at fault (JSON path, query or form name), if any.
    pub field: Option<String>,
    /// More members of the `error` object.
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// An error with no field.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            extra: Map::new(),
        }
    }

    /// Names the field at fault.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Adds a member to the error object.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// 400 for a bad value in `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message).field(field)
    }

    /// 401: no or bad credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: known caller, not allowed.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 429: a limit on how many or how often; `Retry-After` is the caller's to add.
    pub fn too_many(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
    }

    /// 503: the store cannot be used now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500; the detail goes to the log, the client gets a generic sentence.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the detail",
        )
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut err = Map::new();
        err.insert("code".into(), self.code.into());
        err.insert("message".into(), self.message.clone().into());
        err.insert(
            "field".into(),
            self.field.clone().map_or(Value::Null, Value::String),
        );
        for (k, v) in &self.extra {
            err.insert(k.clone(), v.clone());
        }
        json!({ "error": err })
    }
}

/// Seconds a client is told to wait after a 503: about how long sitrep takes to
/// notice a cleared fault and work again (docs/deploy.md, degradation).
pub const RETRY_AFTER_SECS: u32 = 5;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self.extra.get("retry_after").and_then(Value::as_u64);
        let mut response = (self.status, axum::Json(self.body())).into_response();
        // A rate limit says its own wait; every 503 is a fault sitrep expects to clear
        // (database, disk, bucket): say when to come back, so senders retry instead of
        // giving up or hammering.
        let secs = match retry {
            Some(secs) => Some(secs),
            None if self.status == StatusCode::SERVICE_UNAVAILABLE => {
                Some(u64::from(RETRY_AFTER_SECS))
            }
            None => None,
        };
        if let Some(secs) = secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::from(AppError::Store(e))
    }
}

/// The HTTP status of each kind of failure: the one table the API and the UI share.
#[must_use]
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Refused => StatusCode::FORBIDDEN,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<AppError> for ApiError {
    /// The status comes from [`AppError::kind`] through [`status_of`]; two refusals are
    /// refined so clients can act on them without parsing: a plan to confirm is 428 and a
    /// refused value 422. The `code` names the variant.
    fn from(e: AppError) -> Self {
        let msg = e.to_string();
        let status = status_of(e.kind());
        match e {
            AppError::Invalid { field, message } => ApiError::invalid(field, message),
            AppError::NotFound { .. } => ApiError::new(status, "not_found", msg),
            AppError::Transition(_) => ApiError::new(status, "invalid_transition", msg),
            AppError::ChecklistOpen { open } => {
                ApiError::new(status, "checklist_open", msg).with("open", open)
            }
            AppError::Unbound { names } => ApiError::new(status, "unbound", msg)
                .field("set")
                .with("missing", names),
            AppError::NeedsConfirmation {
                display,
                plan,
                reasons,
            } => ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "confirmation_needed",
                msg,
            )
            .field("confirmed")
            .with("display", display)
            .with("plan", plan)
            .with("reasons", reasons),
            AppError::ValueRefused { refusals } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "value_refused", msg)
                    .field("set")
                    .with(
                        "refused",
                        serde_json::to_value(&refusals).unwrap_or(Value::Null),
                    )
            }
            AppError::NeedsApproval { reason, approval } => {
                let e = ApiError::new(status, "approval_needed", msg).with("reason", reason);
                match approval {
                    Some(a) => e.with("approval", serde_json::to_value(&*a).unwrap_or(Value::Null)),
                    None => e,
                }
            }
            AppError::SelfApproval => ApiError::new(status, "self_approval", msg),
            AppError::Denied { reason } => {
                ApiError::new(status, "denied", msg).with("reason", reason)
            }
            AppError::NoLevelLeft { levels, .. } => {
                ApiError::new(status, "no_level_left", msg).with("levels", levels)
            }
            AppError::Busy { .. } => ApiError::new(status, "busy", msg),
            AppError::Store(StoreError::Conflict { .. }) => ApiError::new(status, "conflict", msg),
            AppError::Blob(_) if status == StatusCode::SERVICE_UNAVAILABLE => {
                tracing::error!(error = %msg, "blob store failure");
                ApiError::unavailable(format!("the evidence store is unavailable: {msg}"))
            }
            AppError::Store(ref inner) if status == StatusCode::SERVICE_UNAVAILABLE => {
                tracing::error!(error = %inner, "store failure");
                ApiError::unavailable(format!("the store is unavailable: {msg}"))
            }
            AppError::Config(_) => ApiError::new(status, "invalid", msg),
            other => ApiError::internal(&other),
        }
    }
}

/// Handlers return this.
pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body parsed with the failing field's path named (`alerts[0].labels`), and
/// size limits answered as 413 in our error shape. An empty body reads as `{}` so
/// actions whose fields are all optional need no body at all.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// Reads the body as bytes, mapping the body limit to a JSON 413.
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> ApiResult<Bytes> {
    Bytes::from_request(req, state).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::invalid(".", rej.body_text())
        }
    })
}

/// The 413 answer.
#[must_use]
pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this endpoint accepts",
    )
}

/// Parses JSON bytes into `T`, naming the failing field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        ApiError::invalid(missing_field(&path, &message).unwrap_or(path), message)
    })?;
    de.end()
        .map_err(|e| ApiError::invalid(".", format!("trailing data: {e}")))?;
    Ok(value)
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// serde reports a missing field at its parent's path; name the field itself.
fn missing_field(path: &str, message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    let name = &rest[..rest.find('`')?];
    Some(if path == "." {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    })
}

/// A query string parsed into `T`; errors are 400 in our shape.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(q));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                ApiError::invalid(missing_field(&path, &message).unwrap_or(path), message)
            })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        tags: Vec<u32>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"title":"x","tags":[1,"a"]}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("tags[1]"));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = parse_json::<Body>(br#"{"title":"x","tags":[],"nope":1}"#).unwrap_err();
        assert!(e.message.contains("nope"), "{}", e.message);
        let e = parse_json::<Body>(b"").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("title"));
    }

    #[test]
    fn confirmation_needed_carries_display_and_reasons() {
        let e = ApiError::from(AppError::NeedsConfirmation {
            display: "rm -rf x".into(),
            plan: "sha256:00".into(),
            reasons: vec!["destructive".into()],
        });
        assert_eq!(e.status, StatusCode::PRECONDITION_REQUIRED);
        let body = e.body();
        assert_eq!(body["error"]["display"], "rm -rf x");
        assert_eq!(body["error"]["plan"], "sha256:00");
        assert_eq!(body["error"]["reasons"][0], "destructive");
        assert_eq!(body["error"]["field"], "confirmed");
    }

    /// The statuses a client sees for the refusals the UI once answered 422: the page and
    /// the API now share this mapping.
    #[test]
    fn each_kind_has_one_status() {
        let cases = [
            (
                AppError::SelfApproval,
                StatusCode::FORBIDDEN,
                "self_approval",
            ),
            (
                AppError::Busy { id: "1".into() },
                StatusCode::CONFLICT,
                "busy",
            ),
            (
                AppError::NoLevelLeft {
                    policy: "web".into(),
                    levels: 2,
                },
                StatusCode::CONFLICT,
                "no_level_left",
            ),
            (
                AppError::Unbound {
                    names: vec!["host".into()],
                },
                StatusCode::BAD_REQUEST,
                "unbound",
            ),
            (
                AppError::Denied {
                    reason: "never".into(),
                },
                StatusCode::FORBIDDEN,
                "denied",
            ),
            (
                AppError::ChecklistOpen {
                    open: vec!["x".into()],
                },
                StatusCode::CONFLICT,
                "checklist_open",
            ),
            (
                AppError::Internal("boom".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!(
                status_of(err.kind()).is_client_error(),
                err.is_caller_error()
            );
            let e = ApiError::from(err);
            assert_eq!((e.status, e.code), (status, code));
            assert!(!e.message.contains("--"), "no CLI flags in {}", e.message);
        }
    }
}
