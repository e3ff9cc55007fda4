//! Discovers what the server offers, then runs every case and reports one
//! line each, ending with the `N passed, N failed, N skipped` line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::capabilities::Capabilities;
use crate::cases::{expect, Case, CaseError, Need, Side, SUITES};
use crate::client::{Client, ClientError};
use crate::ctx::Ctx;
use crate::signing::Signer;
use crate::wire::ActiveLine;
use crate::{Options, Summary};

pub fn run(opts: &Options, out: &mut dyn Write) -> Summary {
    let transcript = Arc::new(Mutex::new(Vec::new()));
    // A zero timeout would make every socket call fail; std rejects it.
    let timeout = opts.timeout.max(Duration::from_millis(100));
    let mut summary = Summary::default();
    // A key that cannot be loaded fails the run's report, not the run: the
    // cases that need it skip, everything else is still worth knowing.
    let signer = match opts.key.as_deref().map(Signer::from_file) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            let line = format!("FAIL  [SIGNED] key-file-is-usable (--key): {e}");
            emit(out, &line);
            summary.failed += 1;
            summary.failures.push(line);
            None
        }
    };
    let mut ctx = Ctx::new(
        opts.target.clone(),
        timeout,
        signer,
        opts.peer_name.clone(),
        transcript,
    );

    if let Err(e) = discover(&mut ctx, opts) {
        let line = format!("FAIL  [BASE] connect (RFC 3977 §5.1): {e}");
        emit(out, &line);
        summary.failed += 1;
        summary.failures.push(line);
        summary.unreachable = Some(e);
        emit(out, &summary.totals_line());
        return summary;
    }
    let discovery_log = ctx.take_transcript();
    if opts.verbose {
        emit(out, &format!("# target {}", ctx.target));
        emit(
            out,
            &format!("# capabilities: {}", ctx.transit_caps.labels().join(" ")),
        );
        if ctx.mode_switching {
            emit(
                out,
                &format!(
                    "# after MODE READER: {}",
                    ctx.reader_caps.labels().join(" ")
                ),
            );
        }
        match &ctx.group {
            Ok(g) => emit(out, &format!("# test group: {g}")),
            Err(why) => emit(out, &format!("# no test group: {why}")),
        }
        if let Some(s) = &ctx.signer {
            emit(out, &format!("# signing key: {}", s.public_hex()));
        }
        if let Some(name) = &ctx.peer_name {
            emit(out, &format!("# peer name: {name}"));
        }
        for line in discovery_log {
            emit(out, &format!("      {line}"));
        }
    }

    for suite in SUITES {
        for case in suite.cases {
            let result = run_case(&mut ctx, case);
            let head = format!("[{}] {} ({})", suite.label, case.name, case.rfc);
            let line = match &result {
                Ok(()) => {
                    summary.passed += 1;
                    format!("PASS  {head}")
                }
                Err(CaseError::Fail(why)) => {
                    summary.failed += 1;
                    let line = format!("FAIL  {head}: {why}");
                    summary.failures.push(line.clone());
                    line
                }
                Err(CaseError::Skip(why)) => {
                    summary.skipped += 1;
                    format!("SKIP  {head}: {why}")
                }
            };
            emit(out, &line);
            let log = ctx.take_transcript();
            if opts.verbose {
                for l in log {
                    emit(out, &format!("      {l}"));
                }
            }
        }
    }
    emit(out, &summary.totals_line());
    summary
}

fn run_case(ctx: &mut Ctx, case: &Case) -> Result<(), CaseError> {
    let caps = ctx.caps(case.side);
    let after = if ctx.mode_switching && case.side == Side::Reader {
        " after MODE READER"
    } else {
        ""
    };
    match case.need {
        Need::Nothing => {}
        Need::Cap(label) if !caps.has(label) => {
            return Err(CaseError::Skip(format!(
                "server does not advertise {label}{after}"
            )));
        }
        Need::AnyCap(labels) if !labels.iter().any(|l| caps.has(l)) => {
            return Err(CaseError::Skip(format!(
                "server advertises none of {}{after}",
                labels.join(", ")
            )));
        }
        Need::List(keyword) if !caps.has_list(keyword) => {
            return Err(CaseError::Skip(format!(
                "server does not advertise LIST {keyword}{after}"
            )));
        }
        _ => {}
    }
    if case.needs_group {
        ctx.group()?;
    }
    (case.run)(ctx)
}

/// Reads the capabilities on both sides and picks the test group. Only a
/// server that cannot be talked to at all is an error (no connection, no
/// greeting, or one refusing service): every case would fail the same way,
/// each after its own timeout. Anything odd after that is left to the
/// cases to report.
fn discover(ctx: &mut Ctx, opts: &Options) -> Result<(), String> {
    let (mut client, greeting) = ctx.connect().map_err(|e| match e {
        ClientError::Connect { .. } => e.to_string(),
        other => format!("no greeting from {}: {other}", ctx.target),
    })?;
    if !matches!(greeting.code, 200 | 201) {
        return Err(format!(
            "{} greeted with \"{greeting}\", not 200 or 201",
            ctx.target
        ));
    }
    ctx.transit_caps = read_caps(&mut client).unwrap_or_default();
    drop(client);
    ctx.mode_switching = ctx.transit_caps.has("MODE-READER");
    ctx.reader_caps = if ctx.mode_switching {
        ctx.reader()
            .ok()
            .and_then(|mut c| read_caps(&mut c).ok())
            .unwrap_or_default()
    } else {
        ctx.transit_caps.clone()
    };

    ctx.active = list_active(ctx).unwrap_or_default();
    ctx.group = match &opts.group {
        Some(g) => Ok(g.clone()),
        None => ctx
            .active
            .iter()
            .find(|g| g.status == "y")
            .map(|g| g.name.clone())
            .ok_or_else(|| {
                "no --group given and LIST ACTIVE lists no group with status y".to_string()
            }),
    };
    Ok(())
}

fn read_caps(client: &mut Client) -> Result<Capabilities, CaseError> {
    let st = client.command("CAPABILITIES")?;
    expect(&st, &[101], "CAPABILITIES")?;
    Ok(Capabilities::parse(&client.read_block()?))
}

fn list_active(ctx: &Ctx) -> Result<Vec<ActiveLine>, CaseError> {
    let mut client = ctx.reader()?;
    let st = client.command("LIST ACTIVE")?;
    expect(&st, &[215], "LIST ACTIVE")?;
    Ok(client
        .read_block()?
        .iter()
        .filter_map(|l| ActiveLine::parse(l))
        .collect())
}

/// Writes one report line. A broken output stream cannot be reported
/// anywhere else, and the returned `Summary` still carries every result.
fn emit(out: &mut dyn Write, line: &str) {
    let _ = writeln!(out, "{line}");
}
