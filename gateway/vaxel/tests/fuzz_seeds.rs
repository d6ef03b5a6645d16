//! The committed fuzz seeds of the routing-table and config loaders, replayed on every
//! `cargo test`: each must load or fail with an error that names its origin, and never
//! panic. (A crash found by fuzzing is added to these folders and so stays tested.)

use std::path::{Path, PathBuf};

use vaxel::config::Config;
use vaxel_routing::{RoutingTable, TableFormat};

fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seed folder {} must exist: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

fn text(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).expect("read seed")).into_owned()
}

#[test]
fn routing_table_seeds_load_or_fail_naming_the_table() {
    let mut loaded = 0;
    for seed in seeds("routing_table") {
        let text = text(&seed);
        for format in [TableFormat::Toml, TableFormat::Json] {
            match RoutingTable::from_str(&text, format, "seed-origin") {
                Ok(_) => loaded += 1,
                Err(e) => assert!(
                    e.to_string().contains("seed-origin"),
                    "{}: error does not name the table: {e}",
                    seed.display()
                ),
            }
        }
    }
    assert!(loaded > 0, "at least one seed is a valid routing table");
}

#[test]
fn config_seeds_load_or_fail_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["c.pem", "k.pem", "ca.pem"] {
        std::fs::write(dir.path().join(f), "x").expect("write fixture");
    }
    let path = dir.path().join("seed.toml");
    for seed in seeds("config") {
        if let Err(e) = Config::from_toml(&text(&seed), &path) {
            assert!(
                e.to_string().contains(&path.display().to_string()),
                "{}: error does not name the file: {e}",
                seed.display()
            );
        }
    }
}
