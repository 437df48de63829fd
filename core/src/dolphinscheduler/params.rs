//! Parameters (global and local) as our `params` and `out`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::read::{keyword, object, required_text, text};
use crate::error::{SpecError, quote};
use crate::keyword::ParamType;

/// DolphinScheduler's parameters (`[{prop, direct, type, value}]`) as our `params` (IN) and
/// `out` (OUT). A parameter our rules cannot hold is an Unmapped, not an error.
pub(super) struct ParamsOut {
    pub(super) params: Map<String, Value>,
    pub(super) out: Vec<Value>,
    /// IN params by name with their type, for procedure arguments.
    pub(super) props: HashMap<String, (String, String, String)>,
}

pub(super) fn read_params(
    items: &[Value],
    path: &str,
    notes: &mut Vec<(String, bool)>,
) -> Result<ParamsOut, SpecError> {
    let mut result = ParamsOut {
        params: Map::new(),
        out: Vec::new(),
        props: HashMap::new(),
    };
    for (k, item) in items.iter().enumerate() {
        let ppath = format!("{path}[{k}]");
        let obj = object(item, &ppath)?;
        let prop = required_text(obj, "prop", &ppath)?;
        let direct = keyword(obj, "direct", &ppath, &["IN", "OUT"])?.unwrap_or_else(|| "IN".into());
        let ds_type = text(obj, "type", &ppath)?
            .unwrap_or("VARCHAR")
            .to_ascii_uppercase();
        let value = match obj.get("value") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        if crate::params::check_param_name(prop, "").is_err() {
            notes.push((
                format!(
                    "parameter {} is not a valid parameter name (letters, digits, '_', '.')",
                    quote(prop)
                ),
                true,
            ));
            continue;
        }
        let Some(param_type) = ParamType::from_name(&ds_type) else {
            notes.push((
                format!(
                    "parameter {}: type {} has no equivalent",
                    quote(prop),
                    quote(&ds_type)
                ),
                true,
            ));
            continue;
        };
        result.props.insert(
            prop.to_owned(),
            (
                direct.clone(),
                param_type.as_str().to_owned(),
                value.clone(),
            ),
        );
        if direct == "OUT" {
            let mut out = json!({"name": prop, "type": param_type.as_str()});
            if !value.is_empty() {
                out["default"] = value.into();
            }
            result.out.push(out);
        } else if param_type == ParamType::default() {
            result.params.insert(prop.to_owned(), value.into());
        } else {
            result.params.insert(
                prop.to_owned(),
                json!({"value": value, "type": param_type.as_str()}),
            );
        }
    }
    Ok(result)
}
