//! Pictures for the demo catalog, drawn on request so the demo works offline.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};

const PALETTE: [(&str, &str); 8] = [
    ("#dbeafe", "#1e3a8a"),
    ("#dcfce7", "#14532d"),
    ("#fef3c7", "#78350f"),
    ("#fce7f3", "#831843"),
    ("#ede9fe", "#4c1d95"),
    ("#e0f2fe", "#0c4a6e"),
    ("#ffedd5", "#7c2d12"),
    ("#f1f5f9", "#0f172a"),
];

pub async fn demo_image(Path(file): Path<String>) -> Response {
    let Some(n) = file
        .strip_suffix(".svg")
        .and_then(|n| n.parse::<u32>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (background, foreground) = PALETTE[(n as usize) % PALETTE.len()];
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160" viewBox="0 0 160 160"><rect width="160" height="160" rx="16" fill="{background}"/><circle cx="80" cy="66" r="30" fill="{foreground}" opacity="0.18"/><text x="80" y="128" font-family="system-ui, sans-serif" font-size="28" font-weight="600" text-anchor="middle" fill="{foreground}">#{n}</text></svg>"##
    );
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
        .into_response()
}
