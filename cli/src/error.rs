//! The command line's one error type. A database error is shown as psql shows it: the
//! message (which names the field at fault), then its detail and hint, not the driver's text.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{}", describe(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, CliError>;

pub fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

fn describe(err: &tokio_postgres::Error) -> String {
    struct Shown<'a>(&'a tokio_postgres::Error);
    impl fmt::Display for Shown<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0.as_db_error() {
                Some(db) => {
                    write!(f, "{}", db.message())?;
                    if let Some(detail) = db.detail() {
                        write!(f, "\nDETAIL: {detail}")?;
                    }
                    if let Some(hint) = db.hint() {
                        write!(f, "\nHINT: {hint}")?;
                    }
                    Ok(())
                }
                None => {
                    let mut text = self.0.to_string();
                    let mut source = std::error::Error::source(self.0);
                    while let Some(s) = source {
                        text = format!("{text}: {s}");
                        source = s.source();
                    }
                    write!(f, "{text}")
                }
            }
        }
    }
    Shown(err).to_string()
}
