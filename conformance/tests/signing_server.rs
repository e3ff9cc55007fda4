//! The suite against a tiny transit-only server that advertises
//! X-TIDINGS-SIGNED and judges IHAVE articles by signing.md (with the
//! suite's own `signing` module, so this checks the suite's wiring, not the
//! spec): without `--key` the transit cases must skip, with one they must
//! send signed articles under Message-IDs bound to it.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process;
use std::sync::{Arc, Mutex};
use std::thread;

use conformance::article::{header_value, Article};
use conformance::signing;
use conformance::Summary;

mod mock;
use mock::{run_suite, Lines};

/// The secret of the key the tests pass as `--key`, which the mock counts
/// as a node key.
const NODE_SECRET: [u8; 32] = [0x42; 32];

/// Message-IDs stored or cancelled: offers of them get 435.
type Seen = Arc<Mutex<HashSet<String>>>;

fn serve(listener: TcpListener) {
    let seen = Seen::default();
    for stream in listener.incoming().flatten() {
        let seen = seen.clone();
        thread::spawn(move || {
            // A peer that vanishes mid-command is not this test's concern.
            let _ = session(stream, seen);
        });
    }
}

fn session(mut s: TcpStream, seen: Seen) -> std::io::Result<()> {
    s.write_all(b"200 signing mock ready\r\n")?;
    let mut input = Lines::new(s.try_clone()?);
    while let Some((text, overlong)) = input.next(false)? {
        if overlong || text.contains('\0') {
            s.write_all(b"500 line refused\r\n")?;
            continue;
        }
        let mut words = text.split_ascii_whitespace();
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match (verb.as_str(), words.next()) {
            ("CAPABILITIES", None) => {
                b"101 caps\r\nVERSION 2\r\nIMPLEMENTATION signing mock\r\nIHAVE\r\nX-TIDINGS-SIGNED 1\r\n.\r\n"
            }
            ("HELP", None) => b"100 help\r\nIHAVE\r\n.\r\n",
            ("QUIT", None) => {
                s.write_all(b"205 bye\r\n")?;
                return Ok(());
            }
            ("IHAVE", Some(id)) if seen.lock().unwrap().contains(id) => b"435 already seen\r\n",
            ("IHAVE", Some(id)) => {
                s.write_all(b"335 send it\r\n")?;
                let Some(lines) = input.article()? else {
                    return Ok(());
                };
                judge(id, &lines, &seen)
            }
            _ => b"500 unknown\r\n",
        };
        s.write_all(reply)?;
    }
    Ok(())
}

/// 235 for an article signed by the key its Message-ID (the one offered)
/// names; a cancel also makes its target seen. 437 for anything else.
fn judge(id: &str, lines: &[String], seen: &Seen) -> &'static [u8] {
    let Some(article) = Article::from_lines(lines) else {
        return b"437 no body\r\n";
    };
    let Ok(key) = signing::verify(&article.to_bytes()) else {
        return b"437 not signed, or does not verify\r\n";
    };
    let bound = signing::msgid_names_key(id, &key);
    // A free ID is for node keys only; this mock's one node key is the
    // suite's `--key` below.
    let free = !signing::msgid_names_a_key(id)
        && key == signing::Signer::from_bytes(&NODE_SECRET).public_hex();
    if article.header("Message-ID") != Some(id) || !(bound || free) {
        return b"437 Message-ID\r\n";
    }
    let mut seen = seen.lock().unwrap();
    let control = article
        .headers
        .iter()
        .find_map(|l| header_value(l, "Control"));
    if let Some(target) = control.and_then(|c| c.strip_prefix("cancel ")) {
        seen.insert(target.trim().to_string());
    }
    seen.insert(id.to_string());
    b"235 ok\r\n"
}

fn run_against_mock(key: Option<PathBuf>) -> (Summary, String) {
    run_suite(serve, Some("conf.test"), key, None)
}

#[test]
fn without_key_transit_cases_skip() {
    let (summary, out) = run_against_mock(None);
    assert_eq!(summary.failed, 0, "{out}");
    assert!(out.contains("PASS  [SIGNED] unsigned-ihave-is-437 (tidings signing.md §4)"));
    let why = "server requires signed articles (X-TIDINGS-SIGNED); pass --key with a key it trusts";
    for case in [
        "[IHAVE] ihave-new-is-335-then-235 (RFC 3977 §6.3.2)",
        "[IHAVE] ihave-header-without-colon-is-437 (RFC 3977 §6.3.2, §3.6)",
        "[HYGIENE] abandoned-ihave-leaves-server-usable (RFC 3977 §6.3.2)",
        "[SIGNED] cancel-before-article-blocks-it (tidings signing.md §5)",
    ] {
        assert!(
            out.contains(&format!("SKIP  {case}: {why}")),
            "{case}\n{out}"
        );
    }
}

#[test]
fn with_key_transit_articles_are_signed_and_bound() {
    let path = std::env::temp_dir().join(format!("conformance-test-{}.key", process::id()));
    fs::write(&path, format!("{}\n", hex::encode(NODE_SECRET))).unwrap();
    let (summary, out) = run_against_mock(Some(path.clone()));
    fs::remove_file(&path).unwrap();
    assert_eq!(summary.failed, 0, "{out}");
    assert!(!out.contains("--key"), "{out}");
    for case in [
        "[IHAVE] ihave-new-is-335-then-235",
        "[IHAVE] ihave-duplicate-is-435",
        "[IHAVE] ihave-message-id-mismatch-is-437",
        "[HYGIENE] abandoned-ihave-leaves-server-usable",
        "[SIGNED] tampered-body-ihave-is-437",
        "[SIGNED] message-id-naming-another-key-is-437",
        "[SIGNED] free-message-id-by-a-stranger-is-437-and-the-id-stays-free",
        "[SIGNED] forged-copy-does-not-block-genuine-article",
        "[SIGNED] cancel-before-article-blocks-it",
    ] {
        assert!(out.contains(&format!("PASS  {case} (")), "{case}\n{out}");
    }
}

#[test]
fn unreadable_key_is_reported() {
    let (summary, out) = run_against_mock(Some(PathBuf::from("/nonexistent/conformance.key")));
    assert_eq!(summary.failed, 1, "{out}");
    assert!(out
        .lines()
        .next()
        .unwrap()
        .starts_with("FAIL  [SIGNED] key-file-is-usable (--key): key file /nonexistent/"));
}
