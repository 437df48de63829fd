//! SPARK and MR tasks: jobs submitted with spark-submit and hadoop jar, their main file a
//! resource center path taken as a path on the worker.

use serde_json::{Map, Value};

use super::read::{err, keyword, number, text};
use crate::error::{SpecError, quote};

/// Splits a command line the way a shell would split words: whitespace outside quotes,
/// single quotes literal, double quotes and backslashes as in sh.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The main jar or file of a SPARK or MR task: a resource center path, used as a path on
/// the worker.
fn main_resource(
    tp: &Map<String, Value>,
    path: &str,
    notes: &mut Vec<(String, bool)>,
) -> Result<Option<String>, SpecError> {
    let name = match tp.get("mainJar") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(jar)) => jar
            .get("resourceName")
            .or_else(|| jar.get("res"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        Some(_) => {
            return Err(err(
                &format!("{path}.mainJar"),
                "must be {\"resourceName\": …}",
            ));
        }
    };
    match name.filter(|n| !n.trim().is_empty()) {
        Some(n) => {
            notes.push((
                format!(
                    "main file {} is a resource file: it is used as a path on the worker",
                    quote(&n)
                ),
                false,
            ));
            Ok(Some(n))
        }
        None => {
            notes.push(("no main jar or file (mainJar) to run".into(), true));
            Ok(None)
        }
    }
}

fn insert_text(
    tp: &Map<String, Value>,
    path: &str,
    pairs: &[(&str, &str)],
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    for (ds, ours) in pairs {
        if let Some(v) = text(tp, ds, path)?.map(str::trim).filter(|v| !v.is_empty()) {
            out.insert((*ours).into(), v.into());
        }
    }
    Ok(())
}

fn insert_words(
    tp: &Map<String, Value>,
    path: &str,
    pairs: &[(&str, &str)],
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    for (ds, ours) in pairs {
        if let Some(v) = text(tp, ds, path)? {
            let words = split_words(v);
            if !words.is_empty() {
                out.insert((*ours).into(), words.into());
            }
        }
    }
    Ok(())
}

pub(super) fn spark_task(
    tp: &Map<String, Value>,
    path: &str,
    notes: &mut Vec<(String, bool)>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    let program = keyword(tp, "programType", path, &["JAVA", "SCALA", "PYTHON", "SQL"])?
        .ok_or_else(|| err(&format!("{path}.programType"), "required"))?;
    out.insert("program_type".into(), program.to_ascii_lowercase().into());
    let script = text(tp, "rawScript", path)?.filter(|s| !s.trim().is_empty());
    if program == "SQL" && script.is_some() && text(tp, "sqlExecutionType", path)? != Some("FILE") {
        notes.push(("a Spark SQL script written inline (rawScript) has no equivalent; spark runs spark-sql -f on a file".into(), true));
    } else if let Some(file) = main_resource(tp, path, notes)? {
        out.insert("main_file".into(), file.into());
    }
    insert_text(
        tp,
        path,
        &[
            ("mainClass", "main_class"),
            ("master", "master"),
            ("appName", "app_name"),
            ("driverMemory", "driver_memory"),
            ("executorMemory", "executor_memory"),
        ],
        out,
    )?;
    match text(tp, "deployMode", path)?
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") => {}
        // DolphinScheduler's "local" is a master, not a deploy mode.
        Some("local") => {
            out.entry("master").or_insert_with(|| "local".into());
        }
        Some(mode @ ("client" | "cluster")) => {
            out.insert("deploy_mode".into(), mode.into());
        }
        Some(other) => {
            return Err(err(
                &format!("{path}.deployMode"),
                format!(
                    "{} is not allowed; allowed: cluster, client, local",
                    quote(other)
                ),
            ));
        }
    }
    for (ds, ours) in [
        ("driverCores", "driver_cores"),
        ("numExecutors", "num_executors"),
        ("executorCores", "executor_cores"),
    ] {
        if let Some(n) = number(tp, ds, path)?.filter(|n| *n > 0) {
            out.insert(ours.into(), n.into());
        }
    }
    insert_words(tp, path, &[("mainArgs", "main_args")], out)?;
    let mut others = text(tp, "others", path)?
        .map(split_words)
        .unwrap_or_default();
    if let Some(queue) = text(tp, "yarnQueue", path)?.filter(|q| !q.trim().is_empty()) {
        others.extend(["--queue".to_owned(), queue.trim().to_owned()]);
    }
    if !others.is_empty() {
        out.insert("others".into(), others.into());
    }
    if let Some(ns) = text(tp, "namespace", path)?.filter(|n| !n.trim().is_empty()) {
        notes.push((
            format!("Kubernetes namespace {} is not imported", quote(ns)),
            false,
        ));
    }
    Ok(())
}

pub(super) fn mr_task(
    tp: &Map<String, Value>,
    path: &str,
    notes: &mut Vec<(String, bool)>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    if let Some(jar) = main_resource(tp, path, notes)? {
        out.insert("main_jar".into(), jar.into());
    }
    insert_text(
        tp,
        path,
        &[
            ("mainClass", "main_class"),
            ("appName", "app_name"),
            ("yarnQueue", "queue"),
        ],
        out,
    )?;
    insert_words(
        tp,
        path,
        &[("others", "others"), ("mainArgs", "main_args")],
        out,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn command_lines_split_as_a_shell_splits_words() {
        assert_eq!(
            split_words(r#"a "b c" 'd e' f\ g"#),
            ["a", "b c", "d e", "f g"]
        );
    }
}
