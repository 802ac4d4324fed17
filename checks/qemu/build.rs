//! Puts `memory.x` where the linker finds it and links with cortex-m-rt's `link.x`, whatever
//! directory cargo is run from.
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    // Identical code folding, as `checks/firmware` links (its `.cargo/config.toml`): the
    // transcripts then run the folded code.
    println!("cargo:rustc-link-arg-bins=--icf=all");
}
