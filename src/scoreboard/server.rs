//! The scoreboard's web server: its page (HTML, script and style, all in the binary: a room
//! needs no internet) and one stream of Server-Sent Events, and nothing else: no file is read,
//! any other path is a 404.
//!
//! Each browser gets the whole model as JSON when it connects (so a reload, or a reconnect
//! after a break, is up to date at once) and again after each change, with the model's version
//! as the event's id. A watch channel carries only "something changed": a browser that stops
//! reading is simply not sent more, and the server keeps nothing for it; changes that come
//! faster than [`EVERY`] are sent as one.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use tokio::sync::watch;

use super::model::Scoreboard;

/// The page, its script and its style.
const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/scoreboard.js");
const STYLE: &str = include_str!("page/scoreboard.css");

/// The most snapshots a second a browser is sent (a countdown ticks in the page itself).
pub const EVERY: Duration = Duration::from_millis(100);

/// What the handlers share: the model, and word of its changes (closed when the scoreboard
/// stops, which ends every stream).
#[derive(Clone)]
pub struct Shared {
    /// The game as the spectator saw it.
    pub model: Arc<Mutex<Scoreboard>>,
    /// The model's version after each change.
    pub changes: watch::Receiver<u64>,
}

/// The routes: `/`, `/scoreboard.js`, `/scoreboard.css`, `/events`; 404 for anything else.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/scoreboard.js", get(script))
        .route("/scoreboard.css", get(style))
        .route("/events", get(events))
        .fallback(not_found)
        .with_state(shared)
}

/// A static part of the page, with headers that keep anything else from running in it.
fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // Only our own script and style, and our own stream: even a bug that put a name into the
    // page as markup could not load or run anything.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn page() -> Response {
    asset(PAGE, "text/html; charset=utf-8")
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        "not found: this server serves its page and /events only\n",
    )
}

/// The stream: a snapshot now, then one after each change, until the scoreboard stops.
async fn events(
    State(shared): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let first = true;
    let stream = stream::unfold((shared, first), |(mut shared, first)| async move {
        if !first {
            // A closed channel is the scoreboard stopping: the stream ends, the page retries.
            shared.changes.changed().await.ok()?;
            // Whatever else changes meanwhile goes out with this one.
            tokio::time::sleep(EVERY).await;
        }
        shared.changes.borrow_and_update();
        let (version, snapshot) = {
            let model = shared.model.lock().unwrap_or_else(|p| p.into_inner());
            (model.version(), model.snapshot(Instant::now()))
        };
        let event = Event::default()
            .event("snapshot")
            .id(version.to_string())
            .data(snapshot.to_string());
        Some((Ok(event), (shared, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
