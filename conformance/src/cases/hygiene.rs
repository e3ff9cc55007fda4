//! Hostile or broken input: the server must refuse it without hanging,
//! without growing without bound, and without hurting other connections
//! (RFC 3977 §3.1, §3.1.1, §6.3.2).

use std::io::Write;
use std::thread;
use std::time::Duration;

use super::{expect, fail, Case, CaseError, CaseResult, Need, Side};
use crate::client::ClientError;
use crate::ctx::Ctx;
use crate::wire;

/// Octets sent without a line end by the flood case.
const FLOOD: usize = 10 * 1024 * 1024;

pub const CASES: &[Case] = &[
    Case {
        name: "10mb-line-is-refused-and-others-still-served",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "RFC 3977 §3.1",
        run: flood,
    },
    Case {
        name: "nul-in-command-is-500-or-501",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "RFC 3977 §3.1, §3.2.1",
        run: nul_in_command,
    },
    Case {
        name: "abandoned-ihave-leaves-server-usable",
        side: Side::Transit,
        need: Need::Cap("IHAVE"),
        needs_group: true,
        rfc: "RFC 3977 §6.3.2",
        run: abandoned_ihave,
    },
];

/// 10 MiB with no line end on one connection, while a second connection
/// must still get its greeting and answers. The flooded connection must end
/// with 500/501 or a close, not silence.
fn flood(ctx: &mut Ctx) -> CaseResult {
    let mut a = ctx.transit()?;
    let mut stream = a.clone_stream()?;
    a.note(format!("> [{FLOOD} octets of 'x' without a line end]"));
    let writer = thread::spawn(move || -> Result<(), ClientError> {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..FLOOD / chunk.len() {
            stream.write_all(&chunk)?;
        }
        Ok(())
    });
    // Let the flood start before the second connection arrives.
    thread::sleep(Duration::from_millis(100));
    let mut b = ctx.transit()?;
    ctx.probe(&mut b, "second connection during the flood")?;

    let written = writer
        .join()
        .map_err(|_| CaseError::Fail("flood writer thread panicked".to_string()))?;
    match written {
        // The server read it all; now end the line so a server that
        // discards up to the line end has something to answer.
        Ok(()) => match a.send_line("") {
            Ok(()) | Err(ClientError::Closed) => {}
            Err(e) => return Err(e.into()),
        },
        // It closed on us, or stopped reading: either way it must now have
        // answered or be closing, which the read below tells.
        Err(ClientError::Closed) | Err(ClientError::Timeout) => {}
        Err(e) => return Err(e.into()),
    }
    match a.read_status() {
        Ok(st) => expect(&st, &[500, 501], "reply to the 10 MiB line")?,
        Err(ClientError::Closed) => {}
        Err(ClientError::Timeout) => {
            return fail(format!(
                "after the 10 MiB line the server neither answered nor closed within {}s",
                ctx.timeout.as_secs()
            ))
        }
        Err(e) => return Err(e.into()),
    }
    ctx.probe(&mut b, "second connection after the flood")
}

/// NUL may not appear in a command (§3.1.1); this is not DATE.
fn nul_in_command(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    c.send_raw(b"DA\0TE\r\n")?;
    let st = c.read_status()?;
    expect(&st, &[500, 501], "command with a NUL octet")?;
    ctx.probe(&mut c, "after the NUL command")
}

/// A peer dies mid-article. The server must serve the next connection, and
/// must not have stored the truncated article: offering the same id again
/// gets 335 (send it) or 436 (later), never 435 (already have it).
fn abandoned_ihave(ctx: &mut Ctx) -> CaseResult {
    let (msgid, article) = ctx.transit_article()?;
    let full = wire::encode_block(&article.lines());
    // Cut inside the last body line, well before the ".\r\n" terminator.
    let cut = full.len() - 3 - 6;

    let mut a = ctx.peer()?;
    let cmd = format!("IHAVE {msgid}");
    let st = a.command(&cmd)?;
    expect(&st, &[335], &cmd)?;
    a.send_raw(&full[..cut])?;
    a.abort();

    let mut b = ctx.peer()?;
    ctx.probe(&mut b, "new connection after an abandoned IHAVE")?;
    let st = b.command(&cmd)?;
    expect(
        &st,
        &[335, 436],
        &format!("{cmd} again after the truncated transfer"),
    )?;
    if st.code == 335 {
        b.send_raw(&full)?;
        let st = b.read_status()?;
        expect(&st, &[235], &format!("complete article for {cmd}"))?;
    }
    Ok(())
}
