//! Declares the SQL files to pgrx in install order, so that no one keeps a chain of
//! `requires` by hand: the layers of `sql/` (folders `N_name`) in number order, the files of a
//! layer in name order, the first file the bootstrap and the last the finalizer. Every Rust
//! `#[pg_extern]` function is created before the second file, so any SQL may call one.
//! `scripts/sql-layers.py --order` prints the same order; docs/architecture.md explains it.

use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let sql = manifest
        .join("../sql")
        .canonicalize()
        .expect("sql/ next to extension/");
    let src = manifest.join("src");
    println!("cargo:rerun-if-changed={}", sql.display());
    println!("cargo:rerun-if-changed={}", src.display());

    let files = install_order(&sql);
    let externs = pg_externs(&src);
    let mut out = String::new();
    let last = files.len() - 1;
    // pgrx makes an identifier of each name: `sql/3_engine/start.sql` is `sql_3_engine_start`.
    let name_of = |file: &Path| -> String {
        let relative = file.strip_prefix(&sql).unwrap().with_extension("");
        format!("sql_{}", relative.display()).replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    };
    for (i, file) in files.iter().enumerate() {
        let name = name_of(file);
        let role = match i {
            0 => "bootstrap".to_owned(),
            _ if i == last => "finalize".to_owned(),
            _ => {
                let mut requires = vec![format!("{:?}", name_of(&files[i - 1]))];
                if i == 1 {
                    requires.extend(externs.iter().cloned());
                }
                format!("requires = [{}]", requires.join(", "))
            }
        };
        let _ = writeln!(
            out,
            "::pgrx::extension_sql_file!({:?}, name = {name:?}, {role});",
            file.display().to_string()
        );
    }
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("sql_files.rs");
    fs::write(dest, out).unwrap();
}

/// The layer folders in number order, each one's `.sql` files in name order.
fn install_order(sql: &Path) -> Vec<PathBuf> {
    let mut layers: Vec<(u32, PathBuf)> = fs::read_dir(sql)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            let (number, _) = name.split_once('_')?;
            Some((number.parse().ok()?, path))
        })
        .filter(|(_, p)| p.is_dir())
        .collect();
    layers.sort();
    let mut files = Vec::new();
    for (_, layer) in layers {
        let mut in_layer: Vec<PathBuf> = fs::read_dir(&layer)
            .unwrap()
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        in_layer.sort();
        files.extend(in_layer);
    }
    assert!(files.len() >= 2, "sql/ holds no layers");
    files
}

/// `module::function` for every `#[pg_extern]` function of a top-level module of `src`.
fn pg_externs(src: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut modules: Vec<PathBuf> = fs::read_dir(src)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    modules.sort();
    for path in modules {
        let module = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if module == "lib" {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let mut pending = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[pg_extern") {
                pending = true;
            } else if pending
                && let Some(rest) = line.split("fn ").nth(1).filter(|_| line.contains("fn "))
            {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push(format!("{module}::{name}"));
                pending = false;
            }
        }
    }
    found
}
