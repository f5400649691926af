//! Tokens (admin), silences (commander) and `whoami`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sitrep_alerts::{Matcher, Silence, Timestamp};
use sitrep_app::AccessRole;
use sitrep_app::store::ApiToken;

use crate::ServerState;
use crate::auth::{Admin, Commander, Via, Viewer, csrf_token};
use crate::error::{ApiError, ApiJson, ApiResult};

/// Who the caller is.
#[derive(Debug, Serialize)]
pub struct WhoAmI {
    /// Token name (the actor recorded on the timeline).
    pub name: String,
    /// Role.
    pub role: AccessRole,
    /// `token` or `session`.
    pub via: &'static str,
    /// The session's CSRF token (cookie sessions only).
    pub csrf: Option<String>,
}

/// `GET /api/v1/whoami`.
pub async fn whoami(Viewer(caller): Viewer) -> Json<WhoAmI> {
    Json(WhoAmI {
        name: caller.name.clone(),
        role: caller.role,
        via: match caller.via {
            Via::Token => "token",
            Via::Session { .. } => "session",
        },
        csrf: csrf_token(&caller).map(str::to_owned),
    })
}

/// A token as listed: never its hash.
#[derive(Debug, Serialize)]
pub struct TokenInfo {
    /// Id (to revoke).
    pub id: String,
    /// Name (the actor it records).
    pub name: String,
    /// Role.
    pub role: String,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms, when revoked.
    pub revoked_ms: Option<i64>,
}

impl From<ApiToken> for TokenInfo {
    fn from(t: ApiToken) -> Self {
        TokenInfo {
            id: t.id,
            name: t.name,
            role: t.role,
            created_ms: t.created_ms,
            revoked_ms: t.revoked_ms,
        }
    }
}

/// Every token.
pub async fn tokens(
    State(state): State<ServerState>,
    Admin(_): Admin,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(
        state
            .app()
            .tokens()
            .await?
            .into_iter()
            .map(TokenInfo::from)
            .collect(),
    ))
}

/// `POST /api/v1/tokens` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Name (recorded as the actor).
    pub name: String,
    /// Role.
    pub role: AccessRole,
}

/// A created token: the secret is in this answer and nowhere else.
#[derive(Debug, Serialize)]
pub struct Created {
    /// The token.
    pub token: TokenInfo,
    /// The secret, shown once.
    pub secret: String,
}

/// Creates a token.
pub async fn create_token(
    State(state): State<ServerState>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let c = state
        .app()
        .create_token(&body.name, body.role, &caller.principal())
        .await?;
    state.changed();
    Ok((
        StatusCode::CREATED,
        Json(Created {
            token: c.token.into(),
            secret: c.secret,
        }),
    ))
}

/// Revokes a token.
pub async fn revoke_token(
    State(state): State<ServerState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenInfo>> {
    let t = state.app().revoke_token(&id, &caller.principal()).await?;
    // Its streams end now here; other replicas notice within `[server.streams] recheck`.
    state.streams().end_principal(&t.id);
    state.changed();
    Ok(Json(t.into()))
}

/// Every silence (configured and API-made).
pub async fn silences(State(state): State<ServerState>, Viewer(_): Viewer) -> Json<Vec<Silence>> {
    Json(state.ingestor().silences())
}

/// `POST /api/v1/silences` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// Matchers, Alertmanager syntax (`alertname="DiskFull"`, `instance=~"db.*"`);
    /// refused past one silence's caps while they are read (the regex budget).
    #[serde(deserialize_with = "sitrep_alerts::capped_matchers")]
    pub matchers: Vec<Matcher>,
    /// Start (default now).
    #[serde(default)]
    pub starts_at: Option<Timestamp>,
    /// End; or give `duration`.
    #[serde(default)]
    pub ends_at: Option<Timestamp>,
    /// How long from the start, e.g. `2h`.
    #[serde(default)]
    pub duration: Option<String>,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

/// Adds a silence: stored (it survives restarts) and sealed in the ledger.
pub async fn add_silence(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    ApiJson(body): ApiJson<NewSilence>,
) -> ApiResult<(StatusCode, Json<Silence>)> {
    let starts_at = body.starts_at.unwrap_or_else(|| {
        Timestamp::from_millisecond(sitrep_app::now_ms()).unwrap_or(Timestamp::UNIX_EPOCH)
    });
    let ends_at = match (body.ends_at, body.duration.as_deref()) {
        (Some(e), None) => e,
        (None, Some(d)) => {
            let d = duration_secs(d)
                .ok_or_else(|| ApiError::invalid("duration", "a duration like 30m, 2h or 1d"))?;
            starts_at
                .checked_add(jiff::SignedDuration::from_secs(d))
                .map_err(|e| ApiError::invalid("duration", e.to_string()))?
        }
        _ => {
            return Err(ApiError::invalid(
                "ends_at",
                "give exactly one of ends_at and duration",
            ));
        }
    };
    let s = state
        .ingestor()
        .create_silence(
            Silence {
                id: uuid::Uuid::now_v7().to_string(),
                matchers: body.matchers,
                starts_at,
                ends_at,
                created_by: caller.name.clone(),
                comment: body.comment,
            },
            &caller.principal(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// `30s`, `15m`, `2h`, `1d` (or `15 minutes`) to whole seconds; `None` when it is not a
/// duration, is zero, or does not fit.
fn duration_secs(text: &str) -> Option<i64> {
    let d = sitrep_runbook::duration::parse(text)?;
    i64::try_from(d.as_secs()).ok().filter(|s| *s > 0)
}

/// Removes a silence.
pub async fn remove_silence(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if state
        .ingestor()
        .delete_silence(&id, &caller.principal())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("silence {id} not found")))
    }
}
