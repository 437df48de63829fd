//! The console's one error type: a database error keeps its message, detail and hint, and
//! the spec field it names, so that the editor can show it on that field.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub code: Option<String>,
    /// Seconds until a limit lets this request through (a Retry-After header).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            detail: None,
            hint: None,
            code: None,
            retry_after: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }

    pub fn retry_after(mut self, wait: std::time::Duration) -> ApiError {
        // Round up: a client that waits exactly this long must find the limit lifted.
        self.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        self
    }

    /// The field a validation message starts with (`tasks[1].script: required`).
    pub fn field(&self) -> Option<String> {
        let text = self
            .message
            .strip_prefix("invalid workflow spec: ")
            .unwrap_or(&self.message);
        let (head, _) = text.split_once(": ")?;
        head.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
            .then(|| head.to_owned())
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(err: tokio_postgres::Error) -> ApiError {
        let Some(db) = err.as_db_error() else {
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("database: {err}"));
        };
        let status = match db.code().code() {
            "42501" => StatusCode::FORBIDDEN,
            "42704" => StatusCode::NOT_FOUND,
            "42710" | "55006" | "55000" | "23505" => StatusCode::CONFLICT,
            c if c.starts_with("28") => StatusCode::UNAUTHORIZED,
            c if c.starts_with("22") || c.starts_with("0A") || c.starts_with("P0") => {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            code: Some(db.code().code().to_owned()),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.message,
            "field": self.field(),
            "detail": self.detail,
            "hint": self.hint,
            "code": self.code,
            "retry_after": self.retry_after,
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_of_a_validation_message() {
        let e = |m: &str| ApiError::new(StatusCode::BAD_REQUEST, m).field();
        assert_eq!(
            e("invalid workflow spec: tasks[1].script: required").as_deref(),
            Some("tasks[1].script")
        );
        assert_eq!(
            e("options.notify.alert_group: alert group \"x\" does not exist").as_deref(),
            Some("options.notify.alert_group")
        );
        assert_eq!(e("workflow \"x\" does not exist"), None);
    }
}
