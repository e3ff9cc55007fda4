//! The user-side commands as a user runs them: the `tidings` binary with
//! stdin and stdout, and `post` against a real node process on 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{temp_dir, Client, NodeProcess, TIMEOUT};

const ARTICLE: &str = "From: Tester <tester@tests.invalid>\nNewsgroups: test.cli\nSubject: hello\n\nfirst line\n.starts with a dot\nlast line\n";

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `stdin`, killing it if it outlives `TIMEOUT`.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tidings");
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    // A writer thread, so a child that stops reading cannot block us.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let stdout = drain(child.stdout.take().expect("stdout"));
    let stderr = drain(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tidings {args:?} did not finish in {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Output {
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = pipe.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    })
}

fn keygen(path: &Path) -> Output {
    let out = path.to_str().expect("utf-8 path");
    run(&["keygen", "--out", out], b"")
}

fn sign(key: &Path, article: &str) -> Output {
    run(
        &["sign", "--key", key.to_str().expect("utf-8 path")],
        article.as_bytes(),
    )
}

fn public_key_of(path: &Path) -> String {
    let secret = tidings::keys::read_secret_key(path).expect("key file");
    tidings::proto::signing::key_hex(&secret.verifying_key())
}

#[test]
fn keygen_writes_a_private_key_and_prints_its_public_key() {
    let dir = temp_dir();
    let path = dir.path().join("user.key");
    let out = keygen(&path);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mode = std::fs::metadata(&path)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {:?}", out.stdout);
    let public = lines[0];
    assert_eq!(public.len(), 64);
    assert!(public
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(public, public_key_of(&path));

    let before = std::fs::read(&path).expect("key file");
    let again = keygen(&path);
    assert_eq!(again.code, Some(1), "never overwrites a key");
    assert_eq!(std::fs::read(&path).expect("key file"), before);
}

#[test]
fn sign_then_verify() {
    let dir = temp_dir();
    let key = dir.path().join("user.key");
    assert_eq!(keygen(&key).code, Some(0));
    let signed = sign(&key, ARTICLE);
    assert_eq!(signed.code, Some(0), "{}", signed.stderr);
    assert!(!signed.stdout.contains('\r'), "output has LF line endings");
    assert!(signed.stdout.contains("\nDate: "));
    let public = public_key_of(&key);
    assert!(signed
        .stdout
        .lines()
        .any(|l| l.starts_with("Message-ID: <")
            && l.ends_with(&format!(".{public}@tidings.invalid>"))));

    let checked = run(&["verify"], signed.stdout.as_bytes());
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);
    assert!(checked.stdout.is_empty());
    assert!(checked.stderr.contains(&format!("signed by {public}")));

    // CRLF input works as well, and a relay's CRLF copy still verifies.
    let crlf = signed.stdout.replace('\n', "\r\n");
    assert_eq!(run(&["verify"], crlf.as_bytes()).code, Some(0));
    let crlf_signed = sign(&key, &ARTICLE.replace('\n', "\r\n"));
    assert_eq!(crlf_signed.code, Some(0), "{}", crlf_signed.stderr);
    assert_eq!(
        run(&["verify"], crlf_signed.stdout.as_bytes()).code,
        Some(0)
    );
}

#[test]
fn one_changed_body_byte_fails_verify() {
    let dir = temp_dir();
    let key = dir.path().join("user.key");
    assert_eq!(keygen(&key).code, Some(0));
    let signed = sign(&key, ARTICLE).stdout;
    let tampered = signed.replacen("first line", "first lime", 1);
    assert_ne!(signed, tampered);
    let checked = run(&["verify"], tampered.as_bytes());
    assert_eq!(checked.code, Some(1));
    assert!(
        checked.stderr.contains("signature does not verify"),
        "{}",
        checked.stderr
    );

    let unsigned = run(&["verify"], ARTICLE.as_bytes());
    assert_eq!(unsigned.code, Some(1));
    assert!(
        unsigned.stderr.contains("not signed"),
        "{}",
        unsigned.stderr
    );
}

#[test]
fn sign_refuses_what_it_cannot_sign() {
    let dir = temp_dir();
    let key = dir.path().join("user.key");
    assert_eq!(keygen(&key).code, Some(0));

    let foreign = format!("Message-ID: <abc@elsewhere.example>\n{ARTICLE}");
    let out = sign(&key, &foreign);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("does not name this key"),
        "{}",
        out.stderr
    );

    let out = sign(&key, "this is not an article\n");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("unparsable article"), "{}", out.stderr);
}

#[test]
fn post_to_a_real_node_and_read_it_back() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nname = \"cli.node\"\ndata_dir = {data:?}\n[listen]\nnntp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[[group]]\nname = \"test.cli\"\n"
        ),
    )
    .expect("config");
    let node = NodeProcess::start(&config);
    // The node created its key before it started listening.
    let key = data.join("node.key");
    let server = node.addr.to_string();
    let body = "posted from the command line\n.a dot-stuffed line\n..two dots\n";
    let out = run(
        &[
            "post",
            "--server",
            &server,
            "--key",
            key.to_str().expect("utf-8 path"),
            "--group",
            "test.cli",
            "--subject",
            "cli post",
        ],
        body.as_bytes(),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {:?}", out.stdout);
    let id = lines[0];
    let public = public_key_of(&key);
    assert!(id.ends_with(&format!(".{public}@tidings.invalid>")), "{id}");

    let mut client = Client::connect(node.addr);
    let (code, text) = client.cmd(&format!("ARTICLE {id}"));
    assert_eq!(code, 220, "{text}");
    let article = client.block();
    let blank = article
        .iter()
        .position(String::is_empty)
        .expect("head and body");
    assert_eq!(article[blank + 1..].join("\n") + "\n", body);
    assert!(article.iter().any(|l| l == "Subject: cli post"));
    let from = format!("From: tidings user <{}@tidings.invalid>", &public[..8]);
    assert!(article.contains(&from), "{article:?}");
    client.cmd("QUIT");

    let returned = article.join("\r\n") + "\r\n";
    let checked = run(&["verify"], returned.as_bytes());
    assert_eq!(checked.code, Some(0), "{}\n{returned}", checked.stderr);
    assert!(checked.stderr.contains(&public));

    // A group the node does not carry: the server's refusal is reported.
    let refused = run(
        &[
            "post",
            "--server",
            &server,
            "--key",
            key.to_str().expect("utf-8 path"),
            "--group",
            "test.elsewhere",
            "--subject",
            "nowhere",
        ],
        b"body\n",
    );
    assert_eq!(refused.code, Some(1));
    assert!(refused.stdout.is_empty());
    assert!(refused.stderr.contains("441"), "{}", refused.stderr);
    // A post for an audience on a board reserved for none: refused, why
    // reported (access.md §7.3).
    let audience = format!("{} friends", public_key_of(&key));
    let protected = run(
        &[
            "post",
            "--server",
            &server,
            "--key",
            key.to_str().expect("utf-8 path"),
            "--group",
            "test.cli",
            "--subject",
            "for friends",
            "--audience",
            &audience,
        ],
        b"body\n",
    );
    assert_eq!(protected.code, Some(1));
    assert!(
        protected.stderr.contains("not reserved"),
        "{}",
        protected.stderr
    );
    drop(node);
}
