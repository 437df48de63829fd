//! The texts of `sql` and `procedure` tasks: where their placeholders are, how they are
//! bound, and what a result becomes.
//!
//! `${name}` in SQL is never spliced: it becomes a bind parameter (`$n` for PostgreSQL, `?`
//! for MySQL), so a value cannot change the statement. `!{name}` splices the value as text,
//! for the rare identifier or clause a parameter cannot stand for; it is unsafe with values
//! a user controls, and says so in its name. `$[...]` time expressions are expanded as text
//! first: they come from the task's author, like the rest of the statement.
//!
//! The pieces: `lex` finds the placeholders, `bind` turns a text into a [`Bound`] statement,
//! `procedure` reads a procedure task's `args` and writes its CALL, `statement` lists what a
//! claimed task runs, `check` what of it can be checked at definition, and `result` reads its
//! OUT values back from the rows.

mod bind;
mod check;
mod lex;
mod procedure;
mod result;
mod statement;

use crate::error::SpecError;

pub use bind::{Arg, Bound, bind, bind_unvalued, pg_type};
pub use check::{Checkable, checkable};
pub use lex::{check, is_query};
pub use procedure::{
    Direction, ProcedureArg, check_procedure_name, mysql_call, parse_args, postgres_call,
};
pub use result::{DEFAULT_LIMIT_ROWS, MAX_LIMIT_ROWS, out_values, task_out};
pub use statement::{Dialect, Statement, statements};

fn error(field: impl AsRef<str>, message: impl Into<String>) -> SpecError {
    SpecError {
        path: field.as_ref().to_owned(),
        message: message.into(),
    }
}
