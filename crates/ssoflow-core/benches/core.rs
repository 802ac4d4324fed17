#![allow(missing_docs)] // criterion_group! generates undocumented items.
//! Core CPU per flow step (build the request + parse the answer), side by side with the same
//! request built and the same members parsed into owned structs with `serde_json` (std, alloc);
//! and the Punchh `x-pch-digest` over 1 KiB, against the `hmac` crate used directly. The
//! workloads live in `common/mod.rs` (shared with the `steps` harness). `scripts/bench-report`
//! turns the results into ratios in BENCHMARKS.md.
//!
//! Within a group criterion runs the two sides one after the other, not interleaved; the ratio
//! is what to read, and `scripts/bench-report` also runs the `steps` harness (interleaved rounds,
//! and callgrind instruction counts that do not depend on what else the machine is doing).

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ssoflow_core::punchh::{Algorithm, digest};

use common::Setup;

fn flows(c: &mut Criterion) {
    let mut setup = Setup::new();
    common::check_equivalence(&mut setup);
    type Step = (&'static str, fn(&mut Setup), fn());
    let steps: [Step; 4] = [
        (
            "par_sign_in",
            |s| drop(black_box(s.par_sign_in())),
            || drop(black_box(common::par_sign_in_baseline())),
        ),
        (
            "punchh_sso",
            |s| drop(black_box(s.punchh_sso())),
            || drop(black_box(common::punchh_sso_baseline())),
        ),
        (
            "oauth2_token",
            |s| drop(black_box(s.oauth2_token())),
            || drop(black_box(common::oauth2_token_baseline())),
        ),
        (
            "pos_login",
            |s| drop(black_box(s.pos_login())),
            || drop(black_box(common::pos_login_baseline())),
        ),
    ];
    for (name, ours, theirs) in steps {
        let mut g = c.benchmark_group(name);
        g.bench_function("ssoflow", |b| b.iter(|| ours(&mut setup)));
        g.bench_function("serde_json", |b| b.iter(theirs));
        g.finish();
    }
}

fn digests(c: &mut Criterion) {
    let input = common::digest_input();
    const SECRET: &str = "SECRET_GOES_HERE";
    const URI: &str = "/api/auth/sso";
    for (group, algorithm, sha256) in [
        ("punchh_digest_1k_hmac_sha1", Algorithm::Sha1, false),
        ("punchh_digest_1k_hmac_sha256", Algorithm::Sha256, true),
    ] {
        assert_eq!(
            digest(SECRET, algorithm, URI, &input).as_str(),
            common::digest_baseline(sha256, SECRET, URI, &input)
        );
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("ssoflow", |b| {
            b.iter(|| {
                digest(
                    black_box(SECRET),
                    algorithm,
                    black_box(URI),
                    black_box(&input),
                )
            })
        });
        g.bench_function("hmac_crate", |b| {
            b.iter(|| {
                common::digest_baseline(
                    sha256,
                    black_box(SECRET),
                    black_box(URI),
                    black_box(&input),
                )
            })
        });
        g.finish();
    }
}

criterion_group!(benches, flows, digests);
criterion_main!(benches);
