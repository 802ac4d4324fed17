//! The demo, the CLI and the examples never go on without randomness: every read of the OS
//! random source (`getrandom::fill(…)`) propagates (`?`, `.map_err(…)` returned) or aborts on failure, none discards it
//! (`let _ = …`, `.ok()`, `.unwrap_or…`), so no all-zero `state`, PKCE or request ids.
//!
//! A failing source itself cannot be provoked here; `ctx::entropy_from` is unit-tested with an
//! injected failing one (`a_failing_random_source_is_an_error_never_zeros`).

use std::path::Path;

/// Every `getrandom::fill(…);` statement in the `.rs` files of `dir` that ignores the error.
fn discarded(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}", dir.display());
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for (at, _) in text.match_indices("getrandom::fill(") {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = text[at..].find(';').map_or(text.len(), |i| at + i);
            let statement = &text[line_start..end];
            // Propagated (`?`, or converted with `.map_err(` and returned) or aborting.
            let checked = statement.contains('?')
                || statement.contains(".expect(")
                || statement.contains(".map_err(");
            let ignored = statement.trim_start().starts_with("let _")
                || statement.contains(".ok()")
                || statement.contains(".unwrap_or");
            if !checked || ignored {
                found.push(format!("{}: {}", file.display(), statement.trim()));
            }
        }
    }
    found
}

#[test]
fn no_random_source_failure_is_ignored() {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = discarded(&cli.join("src"));
    found.extend(discarded(&cli.join("../../examples")));
    assert!(
        found.is_empty(),
        "random source failures ignored:\n{}",
        found.join("\n")
    );
}
