//! The suite against a deliberately tiny transit-only server that gets the
//! little it offers right: nothing may fail, everything it does not
//! advertise must be skipped, and the report must keep its shape.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use conformance::{run, Options};

mod mock;
use mock::{run_suite, Lines};

fn serve(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        thread::spawn(move || {
            // A peer that vanishes mid-command is not this test's concern.
            let _ = session(stream);
        });
    }
}

/// Greeting, then CAPABILITIES, HELP, QUIT; 500 for anything else,
/// including over-long or NUL-bearing lines.
fn session(mut s: TcpStream) -> std::io::Result<()> {
    s.write_all(b"200 minimal ready\r\n")?;
    let mut lines = Lines::new(s.try_clone()?);
    while let Some((text, overlong)) = lines.next(false)? {
        let reply: &[u8] = if overlong || text.contains('\0') {
            b"500 line refused\r\n"
        } else {
            match text.trim().to_ascii_uppercase().as_str() {
                "CAPABILITIES" => b"101 caps\r\nVERSION 2\r\nIMPLEMENTATION minimal\r\n.\r\n",
                "HELP" => b"100 help\r\n..dot-stuffed help line\r\n.\r\n",
                "QUIT" => {
                    s.write_all(b"205 bye\r\n")?;
                    return Ok(());
                }
                _ => b"500 unknown\r\n",
            }
        };
        s.write_all(reply)?;
    }
    Ok(())
}

#[test]
fn minimal_server_passes_or_skips_everything() {
    let (summary, out) = run_suite(serve, None, None, None);

    assert_eq!(summary.failed, 0, "{out}");
    assert!(summary.unreachable.is_none());
    assert!(summary.passed >= 8, "{out}");
    assert!(summary.skipped > 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some(
            format!(
                "{} passed, 0 failed, {} skipped, 0 known deviations",
                summary.passed, summary.skipped
            )
            .as_str()
        )
    );
    for line in &lines[..lines.len() - 1] {
        assert!(
            line.starts_with("PASS  [") || line.starts_with("SKIP  ["),
            "{line}"
        );
    }
    assert!(out.contains(
        "SKIP  [STREAMING] mode-stream-is-203 (RFC 4644 §2.3): server does not advertise STREAMING"
    ));
}

#[test]
fn unreachable_target_is_reported() {
    // Bind then drop, so the port is (almost certainly) closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = Options {
        target: format!("127.0.0.1:{port}"),
        group: None,
        timeout: Duration::from_secs(2),
        verbose: false,
        key: None,
        peer_name: None,
        http: None,
    };
    let mut out = Vec::new();
    let summary = run(&opts, &mut out);
    let out = String::from_utf8(out).unwrap();
    assert!(summary.unreachable.is_some());
    assert_eq!(summary.failed, 1);
    assert_eq!(
        out.lines().last(),
        Some("0 passed, 1 failed, 0 skipped, 0 known deviations")
    );
}
