//! The web front end (console/web, built by Vite in `make install`), embedded in the binary
//! so that a release binary serves itself. Paths that are not files are the single-page
//! app's own routes and get index.html.

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "web/dist/"]
#[allow_missing = true]
struct Web;

pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (file, name) = match Web::get(path) {
        Some(f) if !path.is_empty() => (f, path),
        _ => match Web::get("index.html") {
            Some(f) => (f, "index.html"),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    "the web front end was not built into this binary: run make install (npm run build in console/web)",
                )
                    .into_response();
            }
        },
    };
    let mime = file.metadata.mimetype().to_owned();
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, cache.to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::X_FRAME_OPTIONS, "DENY".to_owned()),
        ],
        file.data,
    )
        .into_response()
}
