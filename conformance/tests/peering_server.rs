//! The suite against a tiny transit-only server that advertises
//! X-TIDINGS-PEER and refuses IHAVE, CHECK, TAKETHIS and MODE STREAM until
//! XPEER succeeds (verified with ed25519-dalek over the suite's own
//! `peering::signed_bytes`, so this checks the suite's wiring, not the
//! spec). With `--peer-name` and `--key` every transit case must
//! authenticate first and pass; without them they must skip; and a server
//! with a flaw must fail the case aimed at it.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use conformance::article::header_value;
use conformance::ctx::NEEDS_PEER;
use conformance::peering::signed_bytes;
use conformance::signing::Signer;
use conformance::Summary;

mod mock;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use mock::{run_suite, Lines};

/// The name the greeting gives, which signatures bind.
const SERVER: &str = "mock.test";

/// The one configured peer, and the secret key its public key comes from.
const PEER: &str = "conf-peer";
const PEER_SECRET: [u8; 32] = [0x42; 32];

/// Deliberate departures from peering.md, each caught by one case.
#[derive(Debug, Clone, Copy, Default)]
struct Flaws {
    /// Transit without XPEER (peering.md §1 forbids it).
    open_transit: bool,
    /// Accepts a signature over any challenge it ever issued, not only the
    /// one of this connection (§2 binds it to the connection's).
    any_challenge: bool,
}

struct Shared {
    flaws: Flaws,
    key: VerifyingKey,
    /// Message-IDs stored: offers of them get 435 / 438 / 439.
    seen: Mutex<HashSet<String>>,
    /// Every challenge issued, for the `any_challenge` flaw.
    issued: Mutex<Vec<String>>,
    next_challenge: AtomicU64,
}

fn serve(listener: TcpListener, flaws: Flaws) {
    let key = VerifyingKey::from_bytes(
        &hex::decode(Signer::from_bytes(&PEER_SECRET).public_hex())
            .unwrap()
            .try_into()
            .unwrap(),
    )
    .unwrap();
    let shared = Arc::new(Shared {
        flaws,
        key,
        seen: Mutex::default(),
        issued: Mutex::default(),
        next_challenge: AtomicU64::new(1),
    });
    for stream in listener.incoming().flatten() {
        let shared = shared.clone();
        thread::spawn(move || {
            // A peer that vanishes mid-command is not this test's concern.
            let _ = session(stream, &shared);
        });
    }
}

/// An article being received, and what its final reply is made of.
struct Receiving {
    verb: &'static str,
    id: String,
    lines: Vec<String>,
}

#[derive(Default)]
struct Session {
    authenticated: bool,
    /// The peer named and the challenge sent by the last `XPEER <name>`,
    /// if the line right before this one was that.
    challenged: Option<(String, String)>,
    receiving: Option<Receiving>,
}

fn session(mut s: TcpStream, shared: &Shared) -> std::io::Result<()> {
    s.write_all(format!("200 {SERVER} peering mock ready\r\n").as_bytes())?;
    let mut state = Session::default();
    let mut input = Lines::new(s.try_clone()?);
    while let Some((text, overlong)) = input.next(state.receiving.is_some())? {
        if let Some(r) = &mut state.receiving {
            if text == "." {
                let reply = judge(r, shared);
                s.write_all(reply.as_bytes())?;
                state.receiving = None;
            } else {
                r.lines
                    .push(text.strip_prefix('.').unwrap_or(&text).to_string());
            }
            continue;
        }
        if overlong || text.contains('\0') {
            s.write_all(b"500 line refused\r\n")?;
            continue;
        }
        match command(&text, &mut state, shared) {
            Some(reply) => s.write_all(reply.as_bytes())?,
            None => {
                s.write_all(b"205 bye\r\n")?;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The reply to one command line; `None` for QUIT.
fn command(text: &str, state: &mut Session, shared: &Shared) -> Option<String> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let verb = words
        .first()
        .map(|v| v.to_ascii_uppercase())
        .unwrap_or_default();
    // XPEER's second line must follow its first directly (§2).
    let challenged = state.challenged.take();
    let may_transit = state.authenticated || shared.flaws.open_transit;
    let transit = matches!(verb.as_str(), "IHAVE" | "CHECK" | "TAKETHIS")
        || (verb == "MODE"
            && words
                .get(1)
                .is_some_and(|m| m.eq_ignore_ascii_case("STREAM")));
    let seen = |id: &str| shared.seen.lock().unwrap().contains(id);
    let reply = match (verb.as_str(), &words[1..]) {
        ("CAPABILITIES", []) => "101 caps\r\nVERSION 2\r\nIMPLEMENTATION peering mock\r\n\
                                 IHAVE\r\nSTREAMING\r\nX-TIDINGS-PEER 1\r\n.\r\n"
            .to_string(),
        ("HELP", []) => "100 help\r\nXPEER\r\n.\r\n".to_string(),
        ("QUIT", []) => return None,
        ("XPEER", _) if state.authenticated => "502 already authenticated\r\n".to_string(),
        ("XPEER", [name]) if *name != PEER => format!("481 unknown peer {name}\r\n"),
        ("XPEER", [name]) => {
            let n = shared.next_challenge.fetch_add(1, Ordering::Relaxed);
            let challenge = format!("{:064x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            shared.issued.lock().unwrap().push(challenge.clone());
            state.challenged = Some((name.to_string(), challenge.clone()));
            format!("381 {challenge}\r\n")
        }
        ("XPEER", [name, signature]) => match challenged {
            Some((first, challenge)) if first == *name => {
                let candidates = if shared.flaws.any_challenge {
                    shared.issued.lock().unwrap().clone()
                } else {
                    vec![challenge]
                };
                if candidates
                    .iter()
                    .any(|c| verifies(shared, name, c, signature))
                {
                    state.authenticated = true;
                    format!("281 Peer {name} authenticated\r\n")
                } else {
                    "481 signature does not verify\r\n".to_string()
                }
            }
            _ => "501 XPEER <name> must come first\r\n".to_string(),
        },
        ("XPEER", _) => "501 syntax\r\n".to_string(),
        _ if transit && !may_transit => {
            if verb == "TAKETHIS" {
                // The article follows regardless; read it to stay in step.
                state.receiving = Some(Receiving {
                    verb: "refused",
                    id: String::new(),
                    lines: Vec::new(),
                });
                return Some(String::new());
            }
            "480 peer authentication required (XPEER)\r\n".to_string()
        }
        ("MODE", [m]) if m.eq_ignore_ascii_case("STREAM") => "203 streaming\r\n".to_string(),
        ("IHAVE", [id]) if seen(id) => "435 already seen\r\n".to_string(),
        ("CHECK", [id]) if seen(id) => format!("438 {id}\r\n"),
        ("CHECK", [id]) => format!("238 {id}\r\n"),
        ("IHAVE" | "TAKETHIS", [id]) => {
            let verb = if verb == "IHAVE" { "IHAVE" } else { "TAKETHIS" };
            state.receiving = Some(Receiving {
                verb,
                id: id.to_string(),
                lines: Vec::new(),
            });
            if verb == "IHAVE" {
                "335 send it\r\n".to_string()
            } else {
                String::new()
            }
        }
        _ => "500 unknown\r\n".to_string(),
    };
    Some(reply)
}

fn verifies(shared: &Shared, name: &str, challenge: &str, signature: &str) -> bool {
    let Some(sig) = hex::decode(signature)
        .ok()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
    else {
        return false;
    };
    shared
        .key
        .verify(
            &signed_bytes(SERVER, name, challenge),
            &Signature::from_bytes(&sig),
        )
        .is_ok()
}

/// 235 / 239 for an article whose header lines all have colons, whose
/// Message-ID is the one offered and which has Newsgroups; 437 / 439
/// otherwise. 480 for a TAKETHIS before XPEER.
fn judge(r: &Receiving, shared: &Shared) -> String {
    let id = &r.id;
    let (ok, bad) = match r.verb {
        "IHAVE" => ("235 ok".to_string(), "437 refused".to_string()),
        "TAKETHIS" => (format!("239 {id}"), format!("439 {id}")),
        _ => return "480 peer authentication required (XPEER)\r\n".to_string(),
    };
    let headers = r.lines.split(|l| l.is_empty()).next().unwrap_or(&[]);
    let find = |name: &str| headers.iter().find_map(|l| header_value(l, name));
    let good = r.lines.iter().any(|l| l.is_empty())
        && headers
            .iter()
            .all(|l| l.contains(':') || l.starts_with([' ', '\t']))
        && find("Message-ID") == Some(id.as_str())
        && find("Newsgroups").is_some();
    let mut seen = shared.seen.lock().unwrap();
    if good && seen.insert(id.clone()) {
        format!("{ok}\r\n")
    } else {
        format!("{bad}\r\n")
    }
}

/// Runs the suite against a fresh mock; `key` is the secret key to write
/// into a key file for `--key`.
fn run_against_mock(
    flaws: Flaws,
    peer_name: Option<&str>,
    key: Option<[u8; 32]>,
) -> (Summary, String) {
    let key_path = key.map(|secret| {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "conformance-peer-{}-{}.key",
            process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::write(&path, format!("{}\n", hex::encode(secret))).unwrap();
        path
    });
    let outcome = run_suite(
        move |listener| serve(listener, flaws),
        Some("conf.test"),
        key_path.clone(),
        peer_name,
    );
    if let Some(path) = key_path {
        fs::remove_file::<PathBuf>(path).unwrap();
    }
    outcome
}

const PEER_CASES: [&str; 6] = [
    "transit-before-xpeer-is-480 (tidings peering.md §1)",
    "xpeer-unknown-name-is-481 (tidings peering.md §2)",
    "xpeer-wrong-signature-is-481 (tidings peering.md §2)",
    "xpeer-then-transit-works (tidings peering.md §2)",
    "xpeer-twice-is-502 (tidings peering.md §2)",
    "xpeer-signature-for-another-challenge-is-481 (tidings peering.md §2)",
];

/// Transit cases the mock can pass once authenticated.
const TRANSIT_CASES: [&str; 6] = [
    "[IHAVE] ihave-new-is-335-then-235",
    "[IHAVE] ihave-message-id-mismatch-is-437",
    "[STREAMING] mode-stream-is-203",
    "[STREAMING] takethis-pipelined-100-answers-239-in-order",
    "[STREAMING] takethis-without-newsgroups-is-439",
    "[HYGIENE] abandoned-ihave-leaves-server-usable",
];

fn assert_line(out: &str, line: &str) {
    assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
}

fn assert_prefix(out: &str, prefix: &str) {
    assert!(
        out.lines().any(|l| l.starts_with(prefix)),
        "no line starting {prefix:?} in\n{out}"
    );
}

#[test]
fn with_peer_name_and_key_everything_passes() {
    let (summary, out) = run_against_mock(Flaws::default(), Some(PEER), Some(PEER_SECRET));
    assert_eq!(summary.failed, 0, "{out}");
    for case in PEER_CASES {
        assert_line(&out, &format!("PASS  [PEER] {case}"));
    }
    for case in TRANSIT_CASES {
        assert_prefix(&out, &format!("PASS  {case} ("));
    }
}

#[test]
fn without_peer_name_transit_cases_skip() {
    let (summary, out) = run_against_mock(Flaws::default(), None, Some(PEER_SECRET));
    assert_eq!(summary.failed, 0, "{out}");
    for case in &PEER_CASES[..2] {
        assert_line(&out, &format!("PASS  [PEER] {case}"));
    }
    for case in &PEER_CASES[2..] {
        assert_line(&out, &format!("SKIP  [PEER] {case}: {NEEDS_PEER}"));
    }
    for case in TRANSIT_CASES {
        assert_prefix(&out, &format!("SKIP  {case} ("));
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("SKIP  {case} (")) && l.ends_with(NEEDS_PEER)),
            "{case}\n{out}"
        );
    }
    // Commands other than transit need no XPEER.
    assert_prefix(
        &out,
        "PASS  [HYGIENE] 10mb-line-is-refused-and-others-still-served (",
    );
    assert_prefix(&out, "PASS  [HYGIENE] nul-in-command-is-500-or-501 (");
}

#[test]
fn without_key_only_name_cases_run() {
    let (summary, out) = run_against_mock(Flaws::default(), Some(PEER), None);
    assert_eq!(summary.failed, 0, "{out}");
    for case in &PEER_CASES[..3] {
        assert_line(&out, &format!("PASS  [PEER] {case}"));
    }
    for case in &PEER_CASES[3..] {
        assert_line(&out, &format!("SKIP  [PEER] {case}: {NEEDS_PEER}"));
    }
    assert_prefix(&out, "SKIP  [IHAVE] ihave-new-is-335-then-235 (");
}

#[test]
fn unconfigured_peer_name_fails_naming_it() {
    let (summary, out) = run_against_mock(Flaws::default(), Some("stranger"), Some(PEER_SECRET));
    assert!(summary.failed > 0, "{out}");
    assert_line(
        &out,
        "FAIL  [IHAVE] ihave-new-is-335-then-235 (RFC 3977 §6.3.2): XPEER stranger: \
         \"481 unknown peer stranger\": the server has no peer named stranger (--peer-name)",
    );
}

#[test]
fn key_not_configured_for_peer_fails_naming_it() {
    let (summary, out) = run_against_mock(Flaws::default(), Some(PEER), Some([0x43; 32]));
    assert!(summary.failed > 0, "{out}");
    let public = Signer::from_bytes(&[0x43; 32]).public_hex();
    assert_line(
        &out,
        &format!(
            "FAIL  [STREAMING] mode-stream-is-203 (RFC 4644 §2.3): XPEER conf-peer <signature>: \
             \"481 signature does not verify\": the server does not have the --key public key \
             {public} configured for peer conf-peer"
        ),
    );
    // The wrong-key case needs only the name, and still passes.
    assert_line(&out, &format!("PASS  [PEER] {}", PEER_CASES[2]));
}

#[test]
fn open_transit_fails_the_480_case() {
    let flaws = Flaws {
        open_transit: true,
        ..Flaws::default()
    };
    let (summary, out) = run_against_mock(flaws, Some(PEER), Some(PEER_SECRET));
    assert_eq!(summary.failures.len(), 3, "{out}");
    assert_prefix(
        &out,
        "FAIL  [PEER] transit-before-xpeer-is-480 (tidings peering.md §1): IHAVE <conf.",
    );
    assert_prefix(
        &out,
        "FAIL  [PEER] xpeer-unknown-name-is-481 (tidings peering.md §2): IHAVE <conf.",
    );
    assert_prefix(
        &out,
        "FAIL  [PEER] xpeer-wrong-signature-is-481 (tidings peering.md §2): IHAVE <conf.",
    );
}

#[test]
fn signature_for_any_challenge_fails_the_replay_case() {
    let flaws = Flaws {
        any_challenge: true,
        ..Flaws::default()
    };
    let (summary, out) = run_against_mock(flaws, Some(PEER), Some(PEER_SECRET));
    assert_eq!(summary.failed, 1, "{out}");
    assert_line(
        &out,
        "FAIL  [PEER] xpeer-signature-for-another-challenge-is-481 (tidings peering.md §2): \
         XPEER conf-peer <signature for another connection's challenge>: expected 481, \
         got \"281 Peer conf-peer authenticated\"",
    );
}
