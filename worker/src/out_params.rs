//! A task's OUT parameters: what it prints with `${setValue(name=value)}` or
//! `#{setValue(name=value)}` (sched-core's capture rules), exported when it ends for the names
//! it declares, each with its declared default when never printed.

use sched_core::OutCapture;
use serde_json::Value;

pub struct OutParams(OutCapture);

impl OutParams {
    /// The task's declared OUT params (`settings.out`, as the database normalised them);
    /// `None` when it declares none, so that other tasks scan no output.
    pub fn of(settings: &Value) -> Result<Option<Self>, String> {
        let Some(out) = settings.get("out") else {
            return Ok(None);
        };
        let declared = sched_core::parse_out(out, "out").map_err(|e| e.to_string())?;
        Ok((!declared.is_empty()).then(|| OutParams(OutCapture::new(declared))))
    }

    /// One line of output, stdout or stderr, whether or not the log keeps it.
    pub fn line(&mut self, text: &str) {
        self.0.line(text);
    }

    /// The exported values, or why they cannot be (a printed value not of its type).
    pub fn export(&self) -> Result<Value, String> {
        let values = self.0.export().map_err(|e| format!("OUT parameter {e}"))?;
        Ok(Value::Object(
            values
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ))
    }
}
