//! `cargo bench --bench verify`: what checking signatures costs a node.
//!
//! 1. ed25519 `verify_strict` of a 1 KiB message on one core: the floor.
//! 2. `ed25519_dalek::verify_batch` in batches of 16 to 256 signatures
//!    (as many keys): what batching the cryptographic check buys, and at
//!    which size (the multiscalar multiplication changes method at 190
//!    points, so batches of 95 and more take Pippenger's).
//! 3. The node's batch check (`tidings::verify::batch_holds`), which adds
//!    up each key's terms first, on batches by as many keys as signatures
//!    and by one key.
//! 4. `signing::verify` of a signed ~1 KiB article: canonical form and
//!    Message-ID binding included, the article parsed once beforehand.
//! 5. The same on two threads, to show it scales across cores.
//! 6. `signing::claimed` alone (signature field parsed, canonical form
//!    built): what a node's session spends on each article before the
//!    verifier sees it.
//!
//! Environment: BENCH_VERIFIES (default 20000 per figure and thread).

use std::time::{Duration, Instant};

use bytes::Bytes;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use tidings::proto::article::Article;
use tidings::proto::signing;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic keys: the figures must not depend on the machine's RNG.
fn key(n: usize) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(n as u64 + 1).to_le_bytes());
    SigningKey::from_bytes(&seed)
}

fn message(n: usize) -> Vec<u8> {
    let mut text = format!("message {n}\r\n").into_bytes();
    text.resize(1024, b'x');
    text
}

fn report(what: &str, count: usize, elapsed: Duration) {
    println!(
        "{what}: {:.0}/s",
        count as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
    );
}

fn strict(n: usize) {
    let key = key(0);
    let message = message(0);
    let signature = key.sign(&message);
    let public = key.verifying_key();
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(public.verify_strict(&message, &signature)).expect("valid");
    }
    report(
        "ed25519 verify_strict, 1 KiB message, one core",
        n,
        started.elapsed(),
    );
}

fn batched(n: usize, size: usize) {
    let keys: Vec<SigningKey> = (0..size).map(key).collect();
    let messages: Vec<Vec<u8>> = (0..size).map(message).collect();
    let signatures: Vec<Signature> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
    let publics: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
    let slices: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let batches = n.div_ceil(size);
    let started = Instant::now();
    for _ in 0..batches {
        std::hint::black_box(ed25519_dalek::verify_batch(&slices, &signatures, &publics))
            .expect("valid");
    }
    report(
        &format!("ed25519 verify_batch, batches of {size}, 1 KiB messages, one core (signatures)"),
        batches * size,
        started.elapsed(),
    );
}

/// `tidings::verify::batch_holds`, the node's batch check, on batches of
/// `size` signatures by `keys` keys: one key is the common case of a node
/// relaying its own web clients' posts, each signed with the node key.
fn grouped(n: usize, size: usize, keys: usize) {
    let signers: Vec<SigningKey> = (0..keys).map(key).collect();
    let claims: Vec<signing::Claimed> = (0..size)
        .map(|i| {
            let signer = &signers[i % keys];
            let message = message(i);
            signing::Claimed {
                field: signing::SignatureField {
                    key: signer.verifying_key(),
                    signature: signer.sign(&message),
                },
                message: Bytes::from(message),
            }
        })
        .collect();
    let refs: Vec<&signing::Claimed> = claims.iter().collect();
    let batches = n.div_ceil(size);
    let started = Instant::now();
    for _ in 0..batches {
        assert!(std::hint::black_box(tidings::verify::batch_holds(&refs)));
    }
    report(
        &format!("node batch check, batches of {size} by {keys} keys, 1 KiB messages, one core (signatures)"),
        batches * size,
        started.elapsed(),
    );
}

/// A signed article of about 1 KiB, as a reader would POST it.
fn signed_article() -> Article {
    let key = key(7);
    let id = signing::new_message_id(&key.verifying_key(), "bench.1", "bench.invalid");
    let mut text = format!(
        "Path: a!not-for-mail\r\nFrom: B <b@bench.invalid>\r\nNewsgroups: bench.group\r\nSubject: bench\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: {}\r\n\r\n",
        String::from_utf8_lossy(&id)
    )
    .into_bytes();
    while text.len() < 1024 - 200 {
        text.extend_from_slice(
            b"The quick brown fox jumps over the lazy dog, again and again.\r\n",
        );
    }
    let unsigned = Article::parse(Bytes::from(text)).expect("parses");
    let signed = signing::sign(&unsigned, &key).expect("signs");
    Article::parse(signed).expect("parses")
}

fn verify_articles(article: &Article, n: usize) {
    for _ in 0..n {
        std::hint::black_box(signing::verify(article)).expect("valid");
    }
}

fn articles(n: usize) {
    let article = signed_article();
    let started = Instant::now();
    verify_articles(&article, n);
    report(
        &format!(
            "signing::verify of a signed {}-octet article, one core",
            article.raw().len()
        ),
        n,
        started.elapsed(),
    );
}

fn claims(n: usize) {
    let article = signed_article();
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(signing::claimed(&article)).expect("claimed");
    }
    report(
        &format!(
            "signing::claimed of a signed {}-octet article, one core",
            article.raw().len()
        ),
        n,
        started.elapsed(),
    );
}

fn articles_threaded(n: usize, threads: usize) {
    let article = signed_article();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| verify_articles(&article, n));
        }
    });
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    report(
        &format!("signing::verify on {threads} threads ({cores} cores available), total"),
        n * threads,
        started.elapsed(),
    );
}

fn main() {
    // `cargo test` runs benches with --bench absent; only measure when asked.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = env_or("BENCH_VERIFIES", 20_000);
    strict(n);
    for size in [2, 4, 8, 16, 32, 64, 94, 96, 128, 256] {
        batched(n, size);
    }
    for size in [8, 16, 64, 128] {
        grouped(n, size, size);
        grouped(n, size, 1);
    }
    articles(n);
    articles_threaded(n, 2);
    claims(n * 10);
}
