//! The engine's states (`/api/states`): `sched.state_model()`, whose colours, sets and command
//! table the app shows and filters by instead of keeping its own (core/src/state.rs names them),
//! and as `choices` the values a spec's enum-like fields allow (`sched._spec_choices()`), which
//! the forms offer.

use axum::Json;

use super::Api;
use crate::app::Authed;

pub async fn states(Authed(s): Authed) -> Api {
    let row = s
        .client
        .query_one(
            "SELECT sched.state_model() || jsonb_build_object('choices', sched._spec_choices())",
            &[],
        )
        .await?;
    Ok(Json(row.get(0)))
}
