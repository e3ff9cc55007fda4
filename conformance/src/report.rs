//! The results of a run as a markdown table (`--table`): one row per case
//! with its capability group, the section it checks and the verdict, then
//! the totals and the text of each known deviation.

use std::fmt::Write;

use crate::{Summary, Verdict};

/// Longest note kept in a table cell; failure messages can quote whole
/// replies.
const NOTE_CHARS: usize = 200;

pub fn markdown(summary: &Summary, target: &str) -> String {
    let mut md = String::new();
    let server = summary
        .implementation
        .as_deref()
        .map(|i| format!("`{}`", cell(i)))
        .unwrap_or_else(|| "a server without IMPLEMENTATION".to_string());
    // Writing to a String cannot fail.
    let _ = writeln!(md, "Results against {server} at `{}`:\n", cell(target));
    md.push_str("| case | group | reference | verdict | note |\n");
    md.push_str("|---|---|---|---|---|\n");
    for o in &summary.outcomes {
        let verdict = match o.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "**FAIL**",
            Verdict::Skip => "SKIP",
            Verdict::Deviation => "DEVIATION",
        };
        let note = match (o.verdict, o.deviation) {
            (Verdict::Deviation, Some(d)) => {
                format!(
                    "known deviation of {} from {}",
                    d.implementation, d.reference
                )
            }
            _ => shorten(&o.detail),
        };
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {verdict} | {} |",
            o.case,
            o.suite,
            cell(o.reference),
            cell(&note)
        );
    }
    let _ = writeln!(md, "\n{}", summary.totals_line());
    let deviations: Vec<_> = summary
        .outcomes
        .iter()
        .filter_map(|o| o.deviation.map(|d| (o, d)))
        .collect();
    if !deviations.is_empty() {
        md.push_str("\nKnown deviations:\n\n");
        for (o, d) in deviations {
            let _ = writeln!(
                md,
                "- `[{}] {}`: {}: \"{}\" {}: {}.",
                o.suite, o.case, d.reference, d.text, d.implementation, d.behaviour
            );
        }
    }
    md
}

/// Text made safe for one table cell: no line breaks, `|` escaped.
fn cell(text: &str) -> String {
    text.replace(['\r', '\n'], " ").replace('|', "\\|")
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= NOTE_CHARS {
        return text.to_string();
    }
    let cut: String = text.chars().take(NOTE_CHARS).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deviations::KNOWN;
    use crate::Outcome;

    #[test]
    fn table_has_a_row_per_case_and_the_deviation_text() {
        let summary = Summary {
            passed: 1,
            failed: 1,
            skipped: 0,
            deviations: 1,
            implementation: Some("INN 2.7.1".into()),
            outcomes: vec![
                Outcome {
                    suite: "BASE",
                    case: "greeting-is-200-or-201",
                    reference: "RFC 3977 §5.1",
                    verdict: Verdict::Pass,
                    detail: String::new(),
                    deviation: None,
                },
                Outcome {
                    suite: "LIST",
                    case: "x",
                    reference: "RFC 3977 §7.6.3",
                    verdict: Verdict::Fail,
                    detail: "got \"215 a|b\"\nmore".into(),
                    deviation: None,
                },
                Outcome {
                    suite: "IHAVE",
                    case: "ihave-message-id-mismatch-is-437",
                    reference: "RFC 3977 §6.3.2",
                    verdict: Verdict::Deviation,
                    detail: "expected 437, got \"235\"".into(),
                    deviation: Some(&KNOWN[0]),
                },
            ],
            ..Summary::default()
        };
        let md = markdown(&summary, "127.0.0.1:119");
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| `")).collect();
        assert_eq!(rows.len(), 3, "{md}");
        assert_eq!(
            rows[0],
            "| `greeting-is-200-or-201` | BASE | RFC 3977 §5.1 | PASS |  |"
        );
        assert!(
            rows[1].contains("**FAIL**") && rows[1].contains("a\\|b"),
            "{md}"
        );
        assert!(!rows[1].contains('\n'));
        assert!(rows[2].contains("DEVIATION"), "{md}");
        assert!(md.starts_with("Results against `INN 2.7.1` at `127.0.0.1:119`:"));
        assert!(md.contains("1 passed, 1 failed, 0 skipped, 1 known deviation\n"));
        assert!(md.contains(KNOWN[0].text), "{md}");
    }
}
