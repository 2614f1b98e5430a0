//! Live updates: `GET /api/v1/events` (Server-Sent Events, per seller) and the
//! notification centre's endpoints.
//!
//! A stream starts with a `snapshot` (active and recent tasks, the unread count, the
//! newest notification id), then sends `task` events (each with the task's `seq`: a
//! client keeps the highest per task and drops older ones) and `notification` events.
//! It subscribes to the event bus before reading the snapshot, so nothing falls between
//! the two. A client too slow to keep up skips ahead: it gets a fresh snapshot instead of
//! the events it missed, so a stream's memory is bounded by the bus, not by the client.
//! Each seller's streams listen on that seller's own channel: another seller's busy day
//! neither wakes them nor makes them fall behind.
//! On PostgreSQL the bus carries every instance's events (`NOTIFY`), so a browser on one
//! instance sees the workers of all.

use app::auth::ssr::SignedIn;
use app::error::AppError;
use app::live::wire::{NotificationEvent, Snapshot};
use app::notifications::NotificationView;
use app::state::AppState;
use app::tasks::TaskSummary;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::{Extension, Json};
use backend::tasks::events::TaskEvent;
use backend::DatabaseConnection;
use futures::Stream;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::ApiError;
use crate::extract::OptionalBody;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(events))
        .routes(routes!(notifications))
        .routes(routes!(mark_read))
}

async fn snapshot(
    db: &DatabaseConnection,
    seller_id: i64,
    build: &str,
) -> Result<Snapshot, AppError> {
    app::live::wire::ssr::snapshot(db, seller_id, build).await
}

fn sse(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().comment("unserialisable event"))
}

struct Live {
    db: DatabaseConnection,
    build: std::sync::Arc<str>,
    seller_id: i64,
    bus: broadcast::Receiver<TaskEvent>,
    /// Events ready to send, in order.
    ready: std::collections::VecDeque<Event>,
    last_notification_id: i64,
    /// Counted in the metrics while the stream lives.
    _open: crate::metrics::StreamOpen,
}

impl Live {
    /// The next events for this seller: waits on the seller's channel of the bus.
    async fn next(mut self) -> Option<(Event, Self)> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some((event, self));
            }
            match self.bus.recv().await {
                Ok(event) if event.seller_id == self.seller_id => {
                    crate::metrics::event_taken(event.emitted_at);
                    let ended = event.status.is_terminal();
                    let summary = TaskSummary::from_event(&event, chrono::Utc::now());
                    self.ready.push_back(sse("task", &summary));
                    if ended {
                        self.new_notifications().await;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(
                        missed,
                        seller_id = self.seller_id,
                        "slow event stream: resync"
                    );
                    match snapshot(&self.db, self.seller_id, &self.build).await {
                        Ok(fresh) => {
                            self.last_notification_id =
                                self.last_notification_id.max(fresh.last_notification_id);
                            self.ready.push_back(sse("snapshot", &fresh));
                        }
                        // Without a snapshot the client cannot trust its state: end the
                        // stream, and it reconnects.
                        Err(_) => return None,
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    async fn new_notifications(&mut self) {
        let Ok(new) =
            backend::notifications::since(&self.db, self.seller_id, self.last_notification_id)
                .await
        else {
            return;
        };
        if new.is_empty() {
            return;
        }
        let unread = backend::notifications::unread_count(&self.db, self.seller_id)
            .await
            .unwrap_or_default();
        for row in new {
            self.last_notification_id = self.last_notification_id.max(row.id);
            // An unreadable row is logged by the conversion and not sent.
            if let Ok(notification) = NotificationView::try_from(row) {
                self.ready.push_back(sse(
                    "notification",
                    &NotificationEvent {
                        notification,
                        unread,
                    },
                ));
            }
        }
    }
}

/// The seller's live event stream (text/event-stream): `snapshot`, then `task` and
/// `notification` events, with a keep-alive comment every 15 s.
#[utoipa::path(get, path = "/api/v1/events", tag = "live",
    responses(
        (status = 200, description = "Server-Sent Events: `snapshot` (Snapshot), `task` (TaskSummary), `notification` (NotificationEvent)", content_type = "text/event-stream", body = LiveEvent),
    ))]
async fn events(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let seller_id = signed_in.seller.id;
    // Subscribe first: an event between the snapshot and the subscription would be lost.
    let bus = state.engine.bus().subscribe_seller(seller_id);
    let first = snapshot(&state.db, seller_id, &state.build).await?;
    let live = Live {
        db: state.db.clone(),
        build: state.build.clone(),
        seller_id,
        bus,
        last_notification_id: first.last_notification_id,
        ready: [sse("snapshot", &first)].into(),
        _open: crate::metrics::StreamOpen::open(),
    };
    let stream = futures::stream::unfold(live, |live| async move {
        live.next().await.map(|(event, live)| (Ok(event), live))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The seller's notifications, newest first (50).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "live",
    responses(
        (status = 200, description = "Newest first", body = Vec<NotificationView>),
    ))]
async fn notifications(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    let rows = backend::notifications::recent(&state.db, signed_in.seller.id, 50)
        .await
        .map_err(app::error::internal)?;
    let views = rows
        .into_iter()
        .map(NotificationView::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Json(views))
}

/// One event of the stream.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // The stream writes events itself; this says their shape.
pub struct LiveEvent {
    event: LiveEventName,
    /// JSON: a `Snapshot`, a `TaskSummary` or a `NotificationEvent`, as `event` says.
    #[schema(content_media_type = "application/json")]
    data: String,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum LiveEventName {
    Snapshot,
    Task,
    Notification,
}

/// Which notifications to mark as read; absent or `null` means all.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    pub ids: Option<Vec<i64>>,
}

impl crate::extract::Checked for ReadBody {}

/// `{"unread": N}` after the change.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unread {
    pub unread: u64,
}

/// Marks notifications as read (the listed ones, or all).
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "live",
    request_body(content = Option<ReadBody>, description = "Absent or `null`: all"),
    responses(
        (status = 200, description = "The unread count now", body = Unread),
    ))]
async fn mark_read(
    State(state): State<AppState>,
    Extension(signed_in): Extension<SignedIn>,
    OptionalBody(body): OptionalBody<ReadBody>,
) -> Result<Json<Unread>, ApiError> {
    let ids = body.and_then(|body| body.ids);
    let seller = signed_in.seller.id;
    backend::notifications::mark_read(&state.db, seller, ids.as_deref(), chrono::Utc::now())
        .await
        .map_err(app::error::internal)?;
    let unread = backend::notifications::unread_count(&state.db, seller)
        .await
        .map_err(app::error::internal)?;
    Ok(Json(Unread { unread }))
}
