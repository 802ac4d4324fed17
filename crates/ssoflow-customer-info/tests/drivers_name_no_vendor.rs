//! The drivers are protocol-agnostic: no code in `ssoflow-ureq`, `ssoflow-tokio` or
//! `ssoflow-embedded-io`'s `src/` names a vendor or this endpoint (comments may, as examples).
//! Vendor knowledge lives in `ssoflow-core`; vendor servers in this crate and the sandbox.

use std::path::{Path, PathBuf};

const DRIVERS: [&str; 3] = ["ssoflow-ureq", "ssoflow-tokio", "ssoflow-embedded-io"];

/// Lower-case needles; `customer?info` is `customer_info`, `customer-info`, `customer info`, …
const VENDOR: [&str; 6] = [
    "par_ordering",
    "punchh",
    "pos_api",
    "stream::",
    "customer?info",
    "ssoflow_customer_info",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `line` (lower-cased) contains `needle`, where `?` matches any one character.
fn names(line: &str, needle: &str) -> bool {
    let (line, needle) = (line.as_bytes(), needle.as_bytes());
    line.windows(needle.len())
        .any(|w| w.iter().zip(needle).all(|(a, b)| *b == b'?' || a == b))
}

/// `file:line: text` of every code line (not a `//` comment) naming a vendor.
fn offending_lines(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    assert!(!files.is_empty(), "no sources under {}", src.display());
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let lower = code.to_ascii_lowercase();
            if VENDOR.iter().any(|v| names(&lower, v)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, code));
            }
        }
    }
    found
}

#[test]
fn driver_sources_name_no_vendor() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let found: Vec<String> = DRIVERS
        .iter()
        .flat_map(|d| offending_lines(&crates.join(d).join("src")))
        .collect();
    assert!(
        found.is_empty(),
        "vendor knowledge in a driver (move it to ssoflow-core or a server crate):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_looks_for() {
    for line in [
        "mod customer_info;",
        "pub use customer_info::Customer;",
        r#".route("/customer-info", post(x))"#,
        "use ssoflow_core::par_ordering::SignIn;",
        "let d = punchh::digest(b);",
        "let t = stream::api_token(&c)?;",
    ] {
        let lower = line.to_ascii_lowercase();
        assert!(VENDOR.iter().any(|v| names(&lower, v)), "{line}");
    }
    assert!(!names("let upstream = 1;", "stream::"));
}
