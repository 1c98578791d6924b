//! The HTTP API: JSON for pipelines and their collections, Server-Sent Events for changes,
//! Prometheus text at `/metrics`, and the dashboard's files. Every error is a JSON object
//! `{"error": ..., "status": ...}` with the right status code; writing requests need the token
//! whenever one is configured.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::pipelines::{Definition, DeployError, Lookup, Registry};
use super::views;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler shares.
pub struct Api {
    /// The pipelines.
    pub registry: Arc<Registry>,
    /// The bearer token writing requests need, when configured.
    pub token: Option<String>,
    /// The Prometheus exposition of the registry's runs.
    pub exposition: prometheus_client::registry::Registry,
    /// The dashboard's configuration, as JSON.
    pub dashboard: serde_json::Value,
}

type Shared = State<Arc<Api>>;

/// A JSON error with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: serde_json::json!({"error": message.into(), "status": status.as_u16()}),
        }
    }

    fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, what)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<DeployError> for ApiError {
    fn from(e: DeployError) -> ApiError {
        match e {
            DeployError::NotFound(name) => ApiError::not_found(format!("no pipeline `{name}`")),
            DeployError::Start(message) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
            }
            DeployError::Invalid(diagnostics) => invalid(&diagnostics),
            DeployError::Cluster => ApiError::new(
                StatusCode::CONFLICT,
                crate::serve::pipelines::CLUSTER_REDEPLOY.to_owned(),
            ),
        }
    }
}

/// `422` with every validation error located.
fn invalid(diagnostics: &crate::spec::Diagnostics) -> ApiError {
    let errors: Vec<serde_json::Value> = diagnostics
        .0
        .iter()
        .map(|d| {
            serde_json::json!({
                "file": d.file,
                "line": d.position.map(|p| p.line),
                "column": d.position.map(|p| p.column),
                "path": d.path,
                "message": d.message,
                "hint": d.hint,
            })
        })
        .collect();
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let n = errors.len();
    ApiError {
        status,
        body: serde_json::json!({
            "error": format!("invalid pipeline: {n} error{}", if n == 1 { "" } else { "s" }),
            "status": status.as_u16(),
            "errors": errors,
        }),
    }
}

fn lookup_error(e: Lookup, pipeline: &str, collection: &str) -> ApiError {
    match e {
        Lookup::Pipeline => ApiError::not_found(format!("no pipeline `{pipeline}`")),
        Lookup::Collection => {
            ApiError::not_found(format!("pipeline `{pipeline}` has no collection `{collection}`"))
        }
        Lookup::NotObserved(observed) => ApiError::not_found(format!(
            "collection `{collection}` has no live view; these have: {} (serve views every sink's input and the collections --observe and the dashboard name)",
            observed.join(", ")
        )),
    }
}

/// The router.
pub fn router(api: Arc<Api>) -> Router {
    let pipelines = Router::new()
        .route("/", get(list))
        .route("/{name}", get(show).put(deploy).delete(remove))
        .route("/{name}/restart", post(restart))
        .route("/{name}/graph", get(graph))
        .route("/{name}/collections/{collection}", get(rows))
        .route("/{name}/collections/{collection}/changes", get(changes))
        .route("/{name}/changes", get(pipeline_changes));
    Router::new()
        .nest("/api/pipelines", pipelines)
        .route("/api/dashboard", get(dashboard_config))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .merge(super::dashboard::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(middleware::from_fn_with_state(api.clone(), authorize))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(api)
}

/// Writing requests need `Authorization: Bearer <token>` when a token is configured, compared in
/// constant time.
async fn authorize(State(api): Shared, request: Request, next: Next) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if let (true, Some(token)) = (writes, api.token.as_deref()) {
        let given = bearer(request.headers()).unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this request needs the token: Authorization: Bearer <token>",
            )
            .into_response();
        }
    }
    next.run(request).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

async fn list(State(api): Shared) -> Json<serde_json::Value> {
    Json(serde_json::json!({"pipelines": api.registry.statuses()}))
}

async fn show(
    State(api): Shared,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    api.registry
        .status(&name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no pipeline `{name}`")))
}

#[derive(Debug, Deserialize)]
struct DeployQuery {
    #[serde(default)]
    dry_run: bool,
}

async fn deploy(
    State(api): Shared,
    Path(name): Path<String>,
    Query(query): Query<DeployQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let yaml = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "the body is not UTF-8 text"))?;
    let registry = api.registry.clone();
    let deployment = tokio::task::spawn_blocking(move || {
        registry.apply(Some(&name), Definition::Body(yaml), query.dry_run)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    // Generation 1 is a pipeline that was not there before.
    let created = deployment.generation == 1 && !deployment.dry_run;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(deployment)).into_response())
}

async fn remove(
    State(api): Shared,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let registry = api.registry.clone();
    let deleted = name.clone();
    tokio::task::spawn_blocking(move || registry.delete(&deleted))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(serde_json::json!({"deleted": name})))
}

async fn restart(
    State(api): Shared,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let registry = api.registry.clone();
    let deployment = tokio::task::spawn_blocking(move || registry.restart(&name))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(serde_json::to_value(deployment).unwrap_or_default()))
}

async fn graph(
    State(api): Shared,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let plan = api
        .registry
        .plan(&name)
        .ok_or_else(|| ApiError::not_found(format!("no pipeline `{name}`")))?;
    Ok(Json(crate::planner::render_json(&plan)))
}

#[derive(Debug, Deserialize)]
struct RowsQuery {
    limit: Option<usize>,
    key: Option<String>,
}

/// Rows returned when no `limit` is given.
const DEFAULT_LIMIT: usize = 1000;

async fn rows(
    State(api): Shared,
    Path((name, collection)): Path<(String, String)>,
    Query(query): Query<RowsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (schema, rows) =
        api.registry.rows(&name, &collection).map_err(|e| lookup_error(e, &name, &collection))?;
    let key = schema.key_or_all();
    let names = key_names(&schema);
    let wanted: Option<Vec<&str>> = query.key.as_deref().map(|k| k.split(',').collect());
    if let Some(values) = &wanted {
        if values.len() != key.len() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "`key` needs {} value(s), comma-separated: {}",
                    key.len(),
                    names.join(", ")
                ),
            ));
        }
    }
    let matches = |row: &[shelfflow_operators::value::Value]| match &wanted {
        None => true,
        // A key value as `CAST(... AS TEXT)` writes it.
        Some(values) => key.iter().zip(values).all(|(&i, v)| row[i].to_string() == *v),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let selected: Vec<&shelfflow_operators::Row> = rows.iter().filter(|r| matches(r)).collect();
    let shown: Vec<serde_json::Value> =
        selected.iter().take(limit).map(|r| schema.row_to_json(r)).collect();
    Ok(Json(serde_json::json!({
        "pipeline": name,
        "collection": collection,
        "key": names,
        "count": selected.len(),
        "rows": shown,
    })))
}

/// The names of the columns that identify a row of `schema`.
fn key_names(schema: &shelfflow_operators::Schema) -> Vec<&str> {
    schema.key_or_all().into_iter().map(|i| schema.fields[i].name.as_str()).collect()
}

/// Server-Sent Events of one collection (see [`stream_changes`]).
async fn changes(
    State(api): Shared,
    Path((name, collection)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    stream_changes(&api, &name, &[collection])
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    collections: String,
}

/// Server-Sent Events of several collections in one stream (`?collections=a,b`), so a page that
/// follows many collections holds one connection, not one per collection (browsers allow six per
/// host).
async fn pipeline_changes(
    State(api): Shared,
    Path(name): Path<String>,
    Query(query): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    let collections: Vec<String> = query.collections.split(',').map(str::to_owned).collect();
    stream_changes(&api, &name, &collections)
}

/// First one `snapshot` event per collection (`{"collection", "key", "rows"}`), then one `changes`
/// event per collection and closed time. A client that falls behind is dropped.
fn stream_changes(api: &Api, name: &str, collections: &[String]) -> Result<Response, ApiError> {
    let mut snapshots = Vec::new();
    let mut live = Vec::new();
    for collection in collections {
        let failed = |e| lookup_error(e, name, collection);
        // Subscribed before the rows are read, so no change falls between the two.
        live.push(tokio_stream::wrappers::BroadcastStream::new(
            api.registry.subscribe(name, collection).map_err(failed)?,
        ));
        let (schema, rows) = api.registry.rows(name, collection).map_err(failed)?;
        let rows: Vec<serde_json::Value> = rows.iter().map(|r| schema.row_to_json(r)).collect();
        let snapshot =
            serde_json::json!({"collection": collection, "key": key_names(&schema), "rows": rows});
        snapshots.push(Ok::<Event, std::convert::Infallible>(
            Event::default().event("snapshot").data(snapshot.to_string()),
        ));
    }
    let live = futures_util::stream::select_all(live)
        .take_while(|message| {
            let behind = message.is_err();
            if behind {
                views::count_dropped_client();
                tracing::warn!("an SSE client fell behind and was dropped");
            }
            std::future::ready(!behind)
        })
        .filter_map(|message| std::future::ready(message.ok()))
        .map(|text| Ok(Event::default().event("changes").data(text.as_ref())));
    let events = futures_util::stream::iter(snapshots).chain(live);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

async fn metrics(State(api): Shared) -> Response {
    super::prometheus::response(&api.exposition)
}

async fn ready(State(api): Shared) -> Response {
    let ready = api.registry.ready();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({"ready": ready}))).into_response()
}

async fn dashboard_config(State(api): Shared) -> Json<serde_json::Value> {
    Json(api.dashboard.clone())
}
