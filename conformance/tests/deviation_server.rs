//! Known deviations end to end: a tiny IHAVE-only server that, like INN
//! 2.7.1, takes an article whose Message-ID header is not the offered id.
//! Calling itself INN 2.7.1 in IMPLEMENTATION, that case is a DEVIATION and
//! the run does not fail; under any other name it is a FAIL.

use std::collections::HashSet;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use conformance::article::{header_value, Article};
use conformance::{Summary, Verdict};

mod mock;
use mock::{run_suite, Lines};

const CASE: &str = "ihave-message-id-mismatch-is-437";

/// Message-IDs stored: offers of them get 435.
type Seen = Arc<Mutex<HashSet<String>>>;

fn serve(listener: TcpListener, implementation: &'static str) {
    let seen = Seen::default();
    for stream in listener.incoming().flatten() {
        let seen = seen.clone();
        thread::spawn(move || {
            // A peer that vanishes mid-command is not this test's concern.
            let _ = session(stream, implementation, seen);
        });
    }
}

fn session(mut s: TcpStream, implementation: &str, seen: Seen) -> std::io::Result<()> {
    s.write_all(b"200 deviation mock ready\r\n")?;
    let mut input = Lines::new(s.try_clone()?);
    while let Some((text, overlong)) = input.next(false)? {
        if overlong || text.contains('\0') {
            s.write_all(b"500 line refused\r\n")?;
            continue;
        }
        let mut words = text.split_ascii_whitespace();
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let reply = match (verb.as_str(), words.next()) {
            ("CAPABILITIES", None) => format!(
                "101 caps\r\nVERSION 2\r\nIMPLEMENTATION {implementation}\r\nIHAVE\r\n.\r\n"
            ),
            ("HELP", None) => "100 help\r\nIHAVE\r\n.\r\n".to_string(),
            ("QUIT", None) => {
                s.write_all(b"205 bye\r\n")?;
                return Ok(());
            }
            ("IHAVE", Some(id)) if seen.lock().unwrap().contains(id) => {
                "435 already seen\r\n".to_string()
            }
            ("IHAVE", Some(_)) => {
                s.write_all(b"335 send it\r\n")?;
                let Some(lines) = input.article()? else {
                    return Ok(());
                };
                judge(&lines, &seen).to_string()
            }
            _ => "500 unknown\r\n".to_string(),
        };
        s.write_all(reply.as_bytes())?;
    }
    Ok(())
}

/// 437 without a Message-ID header or with a header line lacking its
/// colon; otherwise 235, filed under the header's id whatever was offered.
fn judge(lines: &[String], seen: &Seen) -> &'static str {
    let Some(article) = Article::from_lines(lines) else {
        return "437 no body\r\n";
    };
    if article.headers.iter().any(|l| !l.contains(':')) {
        return "437 header without colon\r\n";
    }
    let Some(id) = article
        .headers
        .iter()
        .find_map(|l| header_value(l, "Message-ID"))
    else {
        return "437 no Message-ID\r\n";
    };
    seen.lock().unwrap().insert(id.trim().to_string());
    "235 Article transferred OK\r\n"
}

fn run_as(implementation: &'static str) -> (Summary, String) {
    run_suite(
        move |listener| serve(listener, implementation),
        Some("test.conformance"),
        None,
        None,
    )
}

#[test]
fn inn_2_7_mismatch_is_a_known_deviation() {
    let (summary, out) = run_as("INN 2.7.1");
    assert_eq!(summary.implementation.as_deref(), Some("INN 2.7.1"));
    assert_eq!(summary.failed, 0, "{out}");
    assert_eq!(summary.deviations, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains(CASE))
        .expect("a line for the case");
    assert!(
        line.starts_with(&format!("DEVIATION [IHAVE] {CASE} (RFC 3977 §6.3.2): ")),
        "{line}"
    );
    assert!(line.contains("known deviation of INN 2.7 from RFC 3977 §6.3.2"));
    assert!(line.contains("got \"235"));
    let o = summary.outcomes.iter().find(|o| o.case == CASE).unwrap();
    assert_eq!(o.verdict, Verdict::Deviation);
    assert_eq!(
        out.lines().last(),
        Some(
            format!(
                "{} passed, 0 failed, {} skipped, 1 known deviation",
                summary.passed, summary.skipped
            )
            .as_str()
        )
    );
    let md = summary.markdown("mock");
    assert!(md.contains(&format!(
        "| `{CASE}` | IHAVE | RFC 3977 §6.3.2 | DEVIATION | known deviation of INN 2.7"
    )));
}

#[test]
fn the_same_behaviour_under_another_name_fails() {
    let (summary, out) = run_as("mock 1.0");
    assert_eq!(summary.deviations, 0, "{out}");
    assert_eq!(summary.failed, 1, "{out}");
    assert!(summary.failures[0].starts_with(&format!("FAIL  [IHAVE] {CASE} ")));
}
