//! Embeds every Fluent file under `locales/` into the binary, so the bot runs from any folder,
//! and makes cargo rebuild when a migration or a locale file changes.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=locales");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    let mut entries = Vec::new();
    if let Ok(dirs) = fs::read_dir(&root) {
        for dir in dirs.flatten() {
            let locale = dir.file_name().to_string_lossy().into_owned();
            if let Ok(files) = fs::read_dir(dir.path()) {
                for file in files.flatten() {
                    let path = file.path();
                    if path.extension().is_some_and(|e| e == "ftl") {
                        println!("cargo:rerun-if-changed={}", path.display());
                        entries.push((locale.clone(), path));
                    }
                }
            }
        }
    }
    entries.sort();
    let mut code =
        String::from("/// (locale, file path, contents) of every file under locales/.\n");
    code.push_str("pub static FTL_FILES: &[(&str, &str, &str)] = &[\n");
    for (locale, path) in &entries {
        let _ = writeln!(
            code,
            "    ({locale:?}, {p:?}, include_str!({p:?})),",
            p = path.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("locales.rs");
    fs::write(out, code).expect("write locales.rs");
}
