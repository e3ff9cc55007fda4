//! Discovers what the server offers, then runs every case and reports one
//! line each, ending with the `N passed, N failed, N skipped, N known
//! deviations` line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::capabilities::Capabilities;
use crate::cases::{expect, Case, CaseError, Need, Side, SUITES};
use crate::client::{Client, ClientError};
use crate::ctx::Ctx;
use crate::deviations;
use crate::signing::Signer;
use crate::wire::ActiveLine;
use crate::{Options, Outcome, Summary, Verdict};

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
            record(
                out,
                &mut summary,
                Outcome {
                    suite: "SIGNED",
                    case: "key-file-is-usable",
                    reference: "--key",
                    verdict: Verdict::Fail,
                    detail: e.to_string(),
                    deviation: None,
                },
            );
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
    ctx.http = opts.http.clone();

    if let Err(e) = discover(&mut ctx, opts) {
        record(
            out,
            &mut summary,
            Outcome {
                suite: "BASE",
                case: "connect",
                reference: "RFC 3977 §5.1",
                verdict: Verdict::Fail,
                detail: e.clone(),
                deviation: None,
            },
        );
        summary.unreachable = Some(e);
        emit(out, &summary.totals_line());
        return summary;
    }
    // The name deviations are keyed by; a mode-switching server may give
    // it only after MODE READER.
    summary.implementation = [&ctx.transit_caps, &ctx.reader_caps]
        .iter()
        .find_map(|c| c.args("IMPLEMENTATION").filter(|a| !a.is_empty()))
        .map(|a| a.join(" "));
    let discovery_log = ctx.take_transcript();
    if opts.verbose {
        emit(out, &format!("# target {}", ctx.target));
        if let Some(i) = &summary.implementation {
            emit(out, &format!("# implementation: {i}"));
        }
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
            let (verdict, detail, deviation) = match result {
                Ok(()) => (Verdict::Pass, String::new(), None),
                Err(CaseError::Skip(why)) => (Verdict::Skip, why, None),
                Err(CaseError::Fail(why)) => {
                    match deviations::find(
                        summary.implementation.as_deref(),
                        suite.label,
                        case.name,
                        &why,
                    ) {
                        Some(d) => (Verdict::Deviation, why, Some(d)),
                        None => (Verdict::Fail, why, None),
                    }
                }
            };
            record(
                out,
                &mut summary,
                Outcome {
                    suite: suite.label,
                    case: case.name,
                    reference: case.rfc,
                    verdict,
                    detail,
                    deviation,
                },
            );
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
        Need::AllCaps(labels) if !labels.iter().all(|l| caps.has(l)) => {
            let missing: Vec<&str> = labels.iter().copied().filter(|l| !caps.has(l)).collect();
            return Err(CaseError::Skip(format!(
                "server does not advertise {}{after}",
                missing.join(", ")
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

/// Counts an outcome, writes its report line and keeps it.
fn record(out: &mut dyn Write, summary: &mut Summary, outcome: Outcome) {
    let line = report_line(&outcome);
    match outcome.verdict {
        Verdict::Pass => summary.passed += 1,
        Verdict::Skip => summary.skipped += 1,
        Verdict::Deviation => summary.deviations += 1,
        Verdict::Fail => {
            summary.failed += 1;
            summary.failures.push(line.clone());
        }
    }
    emit(out, &line);
    summary.outcomes.push(outcome);
}

/// `PASS  [SUITE] case (reference)`, with the reason after a colon for
/// the other verdicts; a deviation also says whose and from what.
fn report_line(o: &Outcome) -> String {
    let head = format!("[{}] {} ({})", o.suite, o.case, o.reference);
    match (o.verdict, o.deviation) {
        (Verdict::Pass, _) => format!("PASS  {head}"),
        (Verdict::Deviation, Some(d)) => format!(
            "DEVIATION {head}: {}; known deviation of {} from {} (\"{}\"): {}",
            o.detail, d.implementation, d.reference, d.text, d.behaviour
        ),
        (v, _) => format!("{:<4}  {head}: {}", v.label(), o.detail),
    }
}

/// Writes one report line. A broken output stream cannot be reported
/// anywhere else, and the returned `Summary` still carries every result.
fn emit(out: &mut dyn Write, line: &str) {
    let _ = writeln!(out, "{line}");
}
