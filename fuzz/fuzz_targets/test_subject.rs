//! `parse_test_subject`: a parsed subject has five non-empty fields, an email with `@`, no `-`
//! in the id, first name, last name or phone, and reassembles to exactly the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::par_ordering::parse_test_subject;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(t) = parse_test_subject(token) {
        for f in [t.id, t.email, t.first_name, t.last_name, t.phone] {
            assert!(!f.is_empty());
        }
        assert!(t.email.contains('@'));
        for f in [t.id, t.first_name, t.last_name, t.phone] {
            assert!(!f.contains('-'), "field with '-': {f:?}");
        }
        let whole = format!(
            "test-{}-{}-{}-{}-{}",
            t.id, t.email, t.first_name, t.last_name, t.phone
        );
        assert_eq!(whole, token);
    } else if let Some(rest) = token.strip_prefix("test-") {
        // Anything of the documented shape parses.
        let parts: Vec<&str> = rest.split('-').collect();
        if parts.len() == 5 && parts.iter().all(|p| !p.is_empty()) && parts[1].contains('@') {
            panic!("a well-formed subject was refused: {token:?}");
        }
    }
});
