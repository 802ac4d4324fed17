fn main() {
    // Only the C library: no std, no unwinder.
    println!("cargo:rustc-link-arg-bins=-lc");
}
