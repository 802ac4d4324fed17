//! The core's JSON pull parser (`json::Parser`) against serde_json: a generic walker reads
//! every object member and string with the parser (arrays and other values are skipped) and
//! compares with serde_json's reading. JSON serde_json accepts (nesting below `MAX_DEPTH`) is
//! accepted, with the same strings (unescaping, surrogate pairs, UTF-8) and the same members;
//! bytes handed to `Sink::push_ascii` are ASCII. Never a stack overflow, however deep the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use ssoflow_core::json::{JsonError, MAX_DEPTH, Parser, Sink};

/// Longest member name the parser reports (longer ones come as an empty name).
const KEY_CAP: usize = 40;

#[derive(Debug)]
enum V {
    Obj(Vec<(String, V)>),
    Str(String),
    Other,
}

struct Grow(String);

impl Sink for Grow {
    fn push(&mut self, s: &str) -> bool {
        self.0.push_str(s);
        true
    }

    fn push_ascii(&mut self, bytes: &[u8]) -> bool {
        assert!(
            bytes.is_ascii(),
            "push_ascii given non-ASCII bytes {bytes:?}"
        );
        self.0.push_str(std::str::from_utf8(bytes).unwrap());
        true
    }
}

fn read(p: &mut Parser<'_>) -> Result<V, JsonError> {
    match p.peek() {
        Some(b'{') => {
            let mut members = Vec::new();
            p.object("object", |p, key| {
                let k = String::from_utf8(key.to_vec()).expect("member name is not UTF-8");
                let v = read(p)?;
                members.push((k, v));
                Ok(())
            })?;
            Ok(V::Obj(members))
        }
        Some(b'"') => {
            let mut g = Grow(String::new());
            p.string_into(&mut g, "string")?;
            Ok(V::Str(g.0))
        }
        _ => {
            p.skip()?;
            Ok(V::Other)
        }
    }
}

/// Deepest nesting of `[`/`{` in the text, strings skipped. Measured on the bytes, not on
/// serde_json's `Value`: with duplicate keys the `Value` keeps only the last member, so a deep
/// earlier one would not count (found by this target: a harness bug, not a parser one).
fn depth(text: &[u8]) -> u32 {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0u32, 0u32, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn same(ours: &V, theirs: &Value, path: &str) {
    match (ours, theirs) {
        (V::Str(a), Value::String(b)) => assert_eq!(a, b, "string at {path} differs"),
        (V::Obj(members), Value::Object(map)) => {
            let long = map.keys().any(|k| k.len() > KEY_CAP);
            let mut names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let duplicates = names.len() != members.len();
            if !long && !duplicates {
                assert_eq!(members.len(), map.len(), "member count at {path}");
            }
            for (k, v) in members {
                if k.is_empty() && long {
                    continue;
                }
                if duplicates && members.iter().filter(|(o, _)| o == k).count() > 1 {
                    continue;
                }
                let t = map
                    .get(k)
                    .unwrap_or_else(|| panic!("member {k:?} at {path} unknown to serde_json"));
                same(v, t, &format!("{path}.{k}"));
            }
        }
        (V::Other, t) => assert!(!t.is_string() && !t.is_object(), "{path}: skipped a {t:?}"),
        (o, t) => panic!("{path}: parser read {o:?}, serde_json {t:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut p = Parser::new(data);
    let ours = read(&mut p).and_then(|v| p.finish().map(|()| v));
    let theirs = serde_json::from_slice::<Value>(data);
    match (&ours, &theirs) {
        (Ok(o), Ok(t)) => same(o, t, "$"),
        (Err(e), Ok(_)) if depth(data) + 1 < MAX_DEPTH => {
            panic!(
                "parser refuses ({e:?}) JSON serde_json reads: {:?}",
                String::from_utf8_lossy(data)
            )
        }
        _ => {}
    }
    // The typed readers on the same bytes never panic either.
    let mut p = Parser::new(data);
    let _ = p.u64_or_string("n", true);
    let mut p = Parser::new(data);
    let _ = p.i64("n");
    let mut p = Parser::new(data);
    let _ = p.bool("b");
    let mut p = Parser::new(data);
    let _ = p.nullable_string::<16>("s");
});
