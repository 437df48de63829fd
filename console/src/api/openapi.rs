//! The API's OpenAPI document (`/api/openapi.json`), kept beside the routes it describes: a
//! test checks that it names every route of `main.rs` and nothing else.

use axum::http::header;
use axum::response::IntoResponse;

pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The paths `main.rs` routes, as `.route("/api/...", ...)` names them.
    fn routed() -> BTreeSet<String> {
        let main = include_str!("../main.rs");
        let mut paths = BTreeSet::new();
        let mut rest = main;
        while let Some(at) = rest.find("\"/api/") {
            let tail = &rest[at + 1..];
            let end = tail.find('"').expect("a closing quote");
            paths.insert(tail[..end].to_owned());
            rest = &tail[end..];
        }
        paths
    }

    #[test]
    fn the_document_describes_every_route_and_only_those() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).expect("valid JSON");
        let documented: BTreeSet<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect();
        assert_eq!(documented, routed());
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
