//! File transfer between nodes (protocol-spec/files.md §6), for servers
//! that advertise `X-TIDINGS-FILES 2`: XFILE answers a piece of a file as
//! a status line saying how many raw octets follow, then exactly those
//! octets, pipelined commands answered in order; an unknown file is 494,
//! a malformed command 501. The piece case uploads its file over HTTP and
//! skips without `--http`.

use sha2::Digest;

use super::http::{file_body, upload};
use super::{expect, fail, Case, CaseResult, Need, Side};
use crate::ctx::Ctx;

const CAPABILITY: &str = "X-TIDINGS-FILES";
const FILES: Need = Need::Cap(CAPABILITY);

pub const CASES: &[Case] = &[
    Case {
        name: "list-x-tidings-files-gives-each-boards-file-limits",
        side: Side::Reader,
        need: Need::List(CAPABILITY),
        needs_group: false,
        rfc: "tidings files.md §2, RFC 3977 §7.6",
        run: limits,
    },
    Case {
        name: "xfile-of-a-file-not-here-is-494",
        side: Side::Reader,
        need: FILES,
        needs_group: false,
        rfc: "tidings files.md §6",
        run: unknown,
    },
    Case {
        name: "xfile-with-a-malformed-hash-or-offset-is-501",
        side: Side::Reader,
        need: FILES,
        needs_group: false,
        rfc: "tidings files.md §6, RFC 3977 §3.2.1",
        run: malformed,
    },
    Case {
        name: "xfile-sends-raw-pieces-of-an-uploaded-file-pipelined",
        side: Side::Reader,
        need: FILES,
        needs_group: false,
        rfc: "tidings files.md §6",
        run: pieces,
    },
];

/// Skips servers whose X-TIDINGS-FILES is older than XFILE (version 1
/// only parses Tidings-File headers).
fn with_xfile(ctx: &Ctx) -> CaseResult {
    let version = ctx
        .reader_caps
        .args(CAPABILITY)
        .and_then(|a| a.first())
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    if version < 2 {
        return super::skip(format!("{CAPABILITY} {version} has no XFILE"));
    }
    Ok(())
}

fn limits(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let st = c.command("LIST ACTIVE")?;
    expect(&st, &[215], "LIST ACTIVE")?;
    let active: Vec<String> = c
        .read_block()?
        .iter()
        .filter_map(|l| l.split(' ').next().map(str::to_string))
        .collect();
    let st = c.command("LIST X-TIDINGS-FILES")?;
    expect(&st, &[215], "LIST X-TIDINGS-FILES")?;
    let lines = c.read_block()?;
    let mut boards = Vec::new();
    for line in &lines {
        let words: Vec<&str> = line.split(' ').collect();
        let well_formed = matches!(words.as_slice(), [_, max, types]
            if max.parse::<u64>().is_ok()
                && types.split(',').all(|t| t.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())));
        if !well_formed {
            return fail(format!(
                "LIST X-TIDINGS-FILES line {line:?}: want <board> <max bytes> <type>,<type>..."
            ));
        }
        boards.push(words[0].to_string());
    }
    boards.sort();
    let mut want = active;
    want.sort();
    if boards != want {
        return fail(format!(
            "LIST X-TIDINGS-FILES names {boards:?}; LIST ACTIVE names {want:?}"
        ));
    }
    Ok(())
}

fn unknown(ctx: &mut Ctx) -> CaseResult {
    with_xfile(ctx)?;
    let mut c = ctx.reader()?;
    let hash = hex::encode(sha2::Sha256::digest(b"conformance: a file no server has"));
    let st = c.command(&format!("XFILE {hash}"))?;
    expect(&st, &[494], "XFILE of an unknown hash")?;
    let st = c.command(&format!("XFILE {} 0 10", hash.to_uppercase()))?;
    expect(&st, &[494], "XFILE of an unknown hash in upper case")
}

fn malformed(ctx: &mut Ctx) -> CaseResult {
    with_xfile(ctx)?;
    let mut c = ctx.reader()?;
    let hash = hex::encode(sha2::Sha256::digest(b"conformance: malformed"));
    for line in [
        "XFILE".to_string(),
        "XFILE abc".to_string(),
        format!("XFILE {}zz", &hash[..62]),
        format!("XFILE {hash} -1"),
        format!("XFILE {hash} 0 ten"),
        format!("XFILE {hash} 0 1 2"),
    ] {
        let st = c.command(&line)?;
        expect(&st, &[501], &line)?;
    }
    Ok(())
}

fn pieces(ctx: &mut Ctx) -> CaseResult {
    with_xfile(ctx)?;
    let body = file_body(ctx);
    let hash = upload(ctx, &body)?;
    let size = body.len();
    let mut c = ctx.reader()?;
    // Three commands in one write; the answers come in order, each line
    // followed by exactly the octets it counts (the first piece, the PNG
    // signature, holds a CR LF: raw octets, not a line).
    c.send_raw(
        format!(
            "XFILE {hash} 0 8\r\nXFILE {hash} {} 100\r\nXFILE {hash} {size} 5\r\n",
            size - 10
        )
        .as_bytes(),
    )?;
    for (offset, count) in [(0, 8), (size - 10, 10), (size, 0)] {
        let st = c.read_status()?;
        expect(&st, &[294], &format!("XFILE {hash} {offset}"))?;
        let want = format!("{hash} {offset} {count} {size} image/png");
        if st.text != want {
            return fail(format!("294 line {:?}, want {want:?}", st.text));
        }
        let got = c.read_raw(count)?;
        if got != body[offset..offset + count] {
            return fail(format!(
                "the {count} octets after the 294 line for offset {offset} are not the file's"
            ));
        }
    }
    let st = c.command(&format!("XFILE {hash} {}", size + 1))?;
    expect(&st, &[501], "XFILE with an offset past the end")?;
    let st = c.command("DATE")?;
    expect(
        &st,
        &[111],
        "DATE after the pieces (the connection stays in step)",
    )
}
