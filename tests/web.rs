//! The reference web front end (protocol-spec/http.md §5) in a real
//! browser: headless Chromium, driven over the DevTools protocol, opens a
//! thread served by a node, posts a reply with the page's form, and sees
//! it appear by the event stream; then a reply posted by another client
//! appears the same way, without a reload. A screenshot of the thread goes
//! to the test output (`CARGO_TARGET_TMPDIR`), not the repository.
//!
//! Needs the Debian package `chromium`; without it the test fails and says
//! so.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use common::*;
use serde_json::{json, Value};

/// A headless Chromium of our own (its profile in a temp dir), killed
/// when dropped so a failing test leaves no browser behind.
struct Browser {
    child: Child,
    devtools: SocketAddr,
}

impl Browser {
    fn start(profile: &Path) -> Browser {
        let runs = Command::new("chromium")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            runs,
            "`chromium --version` does not run: this test drives the web front end in \
             headless Chromium; install it with `apt-get update && apt-get install -y chromium`"
        );
        let child = Command::new("chromium")
            .args([
                "--headless",
                // Root in a container has no user namespace to sandbox in.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1000,800",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        // With port 0 Chromium picks one and writes it here.
        let port_file = profile.join("DevToolsActivePort");
        let mut port = 0u16;
        wait_until(TIMEOUT, "Chromium's DevTools port", || {
            port = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()))
                .unwrap_or(0);
            port != 0
        });
        Browser {
            child,
            devtools: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// The DevTools WebSocket of the browser's first page.
    fn page(&self) -> Page {
        let mut url = String::new();
        wait_until(TIMEOUT, "a page target", || {
            let Some(list) = http_get(self.devtools, "/json/list") else {
                return false;
            };
            let targets: Value = serde_json::from_slice(&list).unwrap_or_default();
            url = targets
                .as_array()
                .and_then(|t| t.iter().find(|t| t["type"] == "page"))
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                .unwrap_or_default()
                .to_string();
            !url.is_empty()
        });
        let (socket, _) = tungstenite::connect(url.as_str()).expect("DevTools WebSocket");
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        }
        Page { socket, next: 0 }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain GET; None when it cannot be had yet. DevTools answers HTTP/1.1
/// only and may keep the connection open, so the body is read by its
/// Content-Length.
fn http_get(addr: SocketAddr, path: &str) -> Option<Vec<u8>> {
    use std::io::BufRead;
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(TIMEOUT)).ok()?;
    write!(
        stream,
        // DevTools names its WebSockets after the Host it is asked by.
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// One page over the DevTools protocol.
struct Page {
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next: u64,
}

impl Page {
    /// Sends a command and waits for its answer (events meanwhile are
    /// dropped: nothing here subscribes to any).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let message = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(tungstenite::Message::text(message.to_string()))
            .expect("send to DevTools");
        loop {
            let message = self.socket.read().expect("DevTools answer");
            let Ok(text) = message.to_text() else {
                continue;
            };
            let value: Value = serde_json::from_str(text).unwrap_or_default();
            if value["id"] == id {
                assert!(value["error"].is_null(), "{method}: {value}");
                return value["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page.
    fn wait_for(&mut self, what: &str, expression: &str) {
        wait_until(TIMEOUT, what, || self.eval(expression) == json!(true));
    }

    /// The texts of the posts the page shows, in order.
    fn posts(&mut self) -> Vec<String> {
        let texts = self.eval(
            "Array.from(document.querySelectorAll('.thread .post .com')).map(c => c.textContent)",
        );
        serde_json::from_value(texts).unwrap_or_default()
    }
}

fn post_json(addr: SocketAddr, path: &str, body: &Value) -> Value {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    assert!(
        raw.starts_with(b"HTTP/1.0 201") || raw.starts_with(b"HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    serde_json::from_slice(&raw[split + 4..]).expect("json")
}

fn screenshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-thread.png")
}

#[test]
fn a_reply_posted_in_the_browser_appears_by_the_event_stream() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let thread = post_json(
        http,
        "/api/v1/posts",
        &json!({ "board": "test.one", "subject": "browser thread", "body": "opening post" }),
    );
    let no = thread["no"].as_u64().expect("no");

    let profile = temp_dir();
    let browser = Browser::start(profile.path());
    let mut page = browser.page();
    page.call(
        "Page.navigate",
        json!({ "url": format!("http://{http}/#/test.one/thread/{no}") }),
    );
    page.wait_for(
        "the thread is shown and the event stream is open",
        "document.querySelectorAll('.thread .post').length === 1 \
         && document.getElementById('live').textContent === 'live'",
    );
    assert_eq!(page.posts(), ["opening post"]);

    // The page's own form; it does not re-read the thread after posting,
    // so the reply can only appear by the event stream.
    page.eval(
        "(() => { const f = document.querySelector('.post-form'); \
           f.elements.name.value = 'Chromium'; \
           f.elements.com.value = 'reply typed in the browser'; \
           f.requestSubmit(); return true; })()",
    );
    page.wait_for(
        "the browser's reply shown",
        "Array.from(document.querySelectorAll('.thread .post .com'))\
           .some(c => c.textContent === 'reply typed in the browser')",
    );
    page.wait_for(
        "the form says the post was taken",
        "document.querySelector('.form-status').textContent.startsWith('posted as No.')",
    );

    // Another client's reply appears too, with no reload.
    page.eval("window.notReloaded = true");
    post_json(
        http,
        "/api/v1/posts",
        &json!({ "board": "test.one", "thread": no, "body": "reply from another client" }),
    );
    page.wait_for(
        "the other client's reply shown",
        "document.querySelectorAll('.thread .post').length === 3",
    );
    assert_eq!(page.eval("window.notReloaded === true"), json!(true));
    assert_eq!(
        page.posts(),
        [
            "opening post",
            "reply typed in the browser",
            "reply from another client"
        ]
    );
    let names = page.eval(
        "Array.from(document.querySelectorAll('.thread .post .name')).map(n => n.textContent)",
    );
    assert_eq!(names, json!(["Anonymous", "Chromium", "Anonymous"]));

    let shot = page.call("Page.captureScreenshot", json!({ "format": "png" }));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("base64");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = screenshot_path();
    std::fs::write(&path, &png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

#[test]
fn the_board_list_and_catalog_render_in_the_browser() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    post_json(
        http,
        "/api/v1/posts",
        &json!({ "board": "test.two", "subject": "catalogued", "body": "in the catalog" }),
    );
    let profile = temp_dir();
    let browser = Browser::start(profile.path());
    let mut page = browser.page();
    page.call("Page.navigate", json!({ "url": format!("http://{http}/") }));
    page.wait_for(
        "the board list",
        "Array.from(document.querySelectorAll('.boards a')).map(a => a.textContent).join(' ') \
           === '/test.one/ /test.two/'",
    );
    page.eval("document.querySelector('.boards a[href=\"#/test.two\"]').click(); true");
    page.wait_for(
        "the catalog of test.two",
        "Array.from(document.querySelectorAll('.catalog .entry a')).some(a => a.textContent === 'catalogued')",
    );
    // A new thread from the catalog's form appears there by the stream.
    page.eval(
        "(() => { const f = document.querySelector('.post-form'); \
           f.elements.sub.value = 'from the catalog'; \
           f.elements.com.value = 'a second thread'; \
           f.requestSubmit(); return true; })()",
    );
    page.wait_for(
        "the new thread in the catalog",
        "Array.from(document.querySelectorAll('.catalog .entry a')).map(a => a.textContent).join('|') \
           === 'from the catalog|catalogued'",
    );
}
