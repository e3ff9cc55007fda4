//! A real terminal newsreader against a `tidings serve` process: slrn runs
//! in a detached tmux session on its own socket, with HOME and the XDG
//! directories in a temp dir, and the test reads its screen with
//! `tmux capture-pane` and types with `tmux send-keys`. slrn lists and opens
//! posts made beforehand over NNTP, then posts one of its own (the editor is
//! a shell script), which arrives with its Subject and Newsgroups and signed
//! by the node, and which slrn then shows in the group.
//!
//! Needs the Debian packages `slrn` and `tmux`; without them the test fails
//! and says so.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{temp_dir, Client, NodeProcess};
use tidings::proto::article::Article;
use tidings::proto::signing;

const GROUP: &str = "test.readers";
/// Every wait on the reader's screen or the node ends after this.
const WAIT: Duration = Duration::from_secs(20);
const SEEDED: [(&str, &str); 3] = [
    ("seeded subject alpha", "seeded body alpha"),
    ("seeded subject beta", "seeded body beta"),
    ("seeded subject gamma", "seeded body gamma"),
];
const SUBJECT: &str = "typed into slrn";
/// The line the scripted editor appends to the article slrn gives it.
const BODY: &str = "Body appended by the scripted editor.";

/// Fails (never skips) when a program the test drives is missing.
fn require(program: &str, version_flag: &str) {
    let runs = Command::new(program)
        .arg(version_flag)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        runs,
        "`{program} {version_flag}` does not run: this test drives the slrn newsreader \
         in tmux; install them with `apt-get update && apt-get install -y slrn tmux`"
    );
}

/// A tmux server of our own (its socket in the temp dir), killed with
/// everything in it when dropped, so a failing test leaves no slrn behind.
struct Tmux {
    socket: PathBuf,
    home: PathBuf,
}

const SESSION: &str = "reader";

impl Tmux {
    /// Starts `command` (a script path) in a detached 132x40 session.
    fn start(home: &Path, command: &Path) -> Tmux {
        let tmux = Tmux {
            socket: home.join("tmux.sock"),
            home: home.to_path_buf(),
        };
        let mut new_session = tmux.command();
        new_session
            .args(["-f", "/dev/null", "new-session", "-d", "-s", SESSION])
            .args(["-x", "132", "-y", "40"])
            .arg(command);
        tmux.run(new_session);
        tmux
    }

    /// A tmux command on our socket, with the temp HOME; the server takes
    /// its environment (and so slrn's) from the command that starts it.
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command
            .arg("-S")
            .arg(&self.socket)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env("TMUX_TMPDIR", &self.home)
            .env("TERM", "xterm")
            .env_remove("TMUX")
            .env_remove("NNTPSERVER")
            .env_remove("SLRNHOME")
            .env_remove("NNTPPORT");
        command
    }

    fn run(&self, mut command: Command) -> String {
        let output = command.output().expect("tmux runs");
        assert!(
            output.status.success(),
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn screen(&self) -> String {
        let mut capture = self.command();
        capture.args(["capture-pane", "-p", "-t", SESSION]);
        self.run(capture)
    }

    /// Presses keys by tmux name ("Space", "Enter", "y").
    fn keys(&self, keys: &[&str]) {
        let mut send = self.command();
        send.args(["send-keys", "-t", SESSION]).args(keys);
        self.run(send);
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        let mut send = self.command();
        send.args(["send-keys", "-t", SESSION, "-l", text]);
        self.run(send);
    }

    /// Polls the screen until `done` holds; fails with the screen after
    /// `WAIT`. Returns the screen it accepted.
    fn wait(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                started.elapsed() < WAIT,
                "timed out after {WAIT:?} waiting for {what}; slrn's screen:\n{}",
                screen.trim_end()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait(&format!("{text:?} on the screen"), |s| s.contains(text))
    }

    /// Waits for slrn's message line (the last non-blank one) to start
    /// with `prompt`: a prompt's word may also be on the screen above.
    fn wait_prompt(&self, prompt: &str) -> String {
        self.wait(&format!("the prompt {prompt:?}"), |s| {
            last_line(s).starts_with(prompt)
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

fn last_line(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The header `name` of a HEAD/ARTICLE block.
fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    let prefix = format!("{name}: ");
    lines
        .iter()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&prefix))
}

#[test]
fn slrn_reads_a_group_and_posts_through_the_node() {
    require("tmux", "-V");
    require("slrn", "--version");
    let started = Instant::now();

    let dir = temp_dir();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let node_key = tidings::keys::write_new_secret_key(&data.join("node.key")).expect("node key");
    let node_key_hex = signing::key_hex(&node_key.verifying_key());
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nname = \"readers.node\"\ndata_dir = {data:?}\n[listen]\nnntp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[[group]]\nname = \"{GROUP}\"\ndescription = \"newsreader tests\"\n"
        ),
    )
    .expect("config");
    let node = NodeProcess::start(&config);

    let mut client = Client::connect(node.addr);
    for (subject, body) in SEEDED {
        client.post(GROUP, subject, body);
    }
    assert_eq!(client.count(GROUP), 3);

    // slrn's files: its rc file, a newsrc subscribed to the group, the
    // editor, and the script the tmux pane runs.
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let home_text = home.to_str().expect("utf-8 temp path");
    assert!(
        !home_text.contains(['\'', '"', '\\']),
        "temp path {home_text} needs no quoting"
    );
    let editor = home.join("editor.sh");
    write_executable(
        &editor,
        &format!("#!/bin/sh\n# slrn's editor: append a body to the article it is given.\nprintf '\\n%s\\n' '{BODY}' >> \"$1\"\n"),
    );
    let slrnrc = home.join(".slrnrc");
    std::fs::write(
        &slrnrc,
        format!(
            "set hostname \"tests.invalid\"\nset username \"reader\"\nset realname \"Reader Test\"\nset editor_command \"'{}' '%s'\"\n",
            editor.display()
        ),
    )
    .expect("slrnrc");
    let newsrc = home.join(".jnewsrc");
    std::fs::write(&newsrc, format!("{GROUP}:\n")).expect("newsrc");
    // When slrn ends, the pane stays (with its exit status) for the
    // screen dumps of a failure; the tmux guard kills it.
    let launcher = home.join("slrn.sh");
    write_executable(
        &launcher,
        &format!(
            "#!/bin/sh\nslrn --nntp -h 127.0.0.1 -p {} -f '{}' -i '{}'\necho \"slrn exited with status $?\"\nexec sleep 600\n",
            node.addr.port(),
            newsrc.display(),
            slrnrc.display()
        ),
    );
    let tmux = Tmux::start(&home, &launcher);

    // (1) The group list, then the group: every seeded subject is listed.
    tmux.wait_for("News Groups");
    tmux.wait_for(GROUP);
    tmux.keys(&["Space"]);
    let listed = tmux.wait("the three seeded subjects", |s| {
        SEEDED.iter().all(|(subject, _)| s.contains(subject))
    });
    assert!(listed.contains(&format!("Group: {GROUP}")), "{listed}");
    // Opening the first one shows a seeded body (ARTICLE).
    tmux.keys(&["Space"]);
    tmux.wait("a seeded article's body", |s| {
        SEEDED.iter().any(|(_, body)| s.contains(body))
    });

    // (2) Post from slrn: confirm, keep the current group, type a subject;
    // the editor script writes the body; confirm sending.
    tmux.keys(&["P"]);
    tmux.wait_prompt("Are you sure that you want to post?");
    tmux.keys(&["y"]);
    let prompt = tmux.wait_prompt("Newsgroup:");
    assert_eq!(last_line(&prompt), format!("Newsgroup: {GROUP}"));
    tmux.keys(&["Enter"]);
    tmux.wait_prompt("Subject:");
    tmux.type_text(SUBJECT);
    tmux.keys(&["Enter"]);
    tmux.wait_prompt("Post the message?");
    tmux.keys(&["y"]);

    let mut client = Client::connect(node.addr);
    let deadline = Instant::now() + WAIT;
    while client.count(GROUP) != 4 {
        assert!(
            Instant::now() < deadline,
            "slrn's post did not arrive in {WAIT:?}; slrn's screen:\n{}",
            tmux.screen().trim_end()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, text) = client.cmd("HEAD 4");
    assert_eq!(code, 221, "{text}");
    let id = text
        .split_whitespace()
        .nth(1)
        .expect("221 n <id>")
        .to_string();
    let head = client.block();
    assert_eq!(header(&head, "Subject"), Some(SUBJECT), "{head:#?}");
    assert_eq!(header(&head, "Newsgroups"), Some(GROUP), "{head:#?}");
    assert_eq!(
        header(&head, "From"),
        Some("Reader Test <reader@tests.invalid>"),
        "{head:#?}"
    );
    assert_eq!(header(&head, "Message-ID"), Some(id.as_str()), "{head:#?}");
    assert!(
        header(&head, "User-Agent").is_some_and(|ua| ua.starts_with("slrn/")),
        "{head:#?}"
    );
    // Unsigned from the reader, so the node signed it with its own key and
    // bound the Message-ID to that key.
    let field = header(&head, signing::HEADER).expect("signed by the node");
    assert!(
        field.starts_with(&format!("ed25519 {node_key_hex} ")),
        "{field}"
    );
    assert!(id.contains(&node_key_hex), "{id}");

    let (code, text) = client.cmd(&format!("ARTICLE {id}"));
    assert_eq!(code, 220, "{text}");
    let lines = client.block();
    let body: Vec<&str> = lines
        .iter()
        .skip_while(|l| !l.is_empty())
        .map(String::as_str)
        .collect();
    assert!(body.contains(&BODY), "{lines:#?}");
    let raw = format!("{}\r\n", lines.join("\r\n"));
    let article = Article::parse(bytes::Bytes::from(raw)).expect("article parses");
    let signer = signing::verify(&article).expect("a valid signature");
    assert_eq!(signer, node_key.verifying_key());

    // slrn sees its own post once it refreshes (NEWGROUPS, GROUP): back to
    // the group list, refresh, enter the group again.
    tmux.keys(&["q"]);
    tmux.wait_for("News Groups");
    tmux.keys(&["G"]);
    tmux.keys(&["Space"]);
    tmux.wait(&format!("{SUBJECT:?} in the group"), |s| {
        s.contains(&format!("Group: {GROUP}")) && s.contains(SUBJECT)
    });

    // And it quits cleanly.
    tmux.keys(&["q"]);
    tmux.wait_for("News Groups");
    tmux.keys(&["q"]);
    tmux.wait_prompt("Do you really want to quit?");
    tmux.keys(&["y"]);
    tmux.wait_for("slrn exited with status 0");
    eprintln!("slrn session took {:?}", started.elapsed());
}
