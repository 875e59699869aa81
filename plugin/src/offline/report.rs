//! The offline tools' terminal tables. (Their JSON is the report structs serialized as they
//! are: the field names are the documented, stable interface.)

use std::fmt::Write;

use super::album::{band_name, AlbumReport};
use super::analysis::Analysis;
use super::compare::Comparison;
use super::selftest::CaseResult;

/// A reading with `decimals` decimals and a unit, or "—" when there is none. Minus signs are
/// ASCII so the tables stay aligned in any terminal.
pub fn reading(value: Option<f64>, decimals: usize, unit: &str) -> String {
    match value {
        Some(v) if v.is_finite() => {
            if unit.is_empty() {
                format!("{v:.decimals$}")
            } else {
                format!("{v:.decimals$} {unit}")
            }
        }
        _ => "—".to_owned(),
    }
}

/// A signed difference ("+1.2 dB"), or "—".
fn signed(value: Option<f64>, decimals: usize, unit: &str) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:+.decimals$} {unit}").trim_end().to_owned(),
        _ => "—".to_owned(),
    }
}

/// The rows every analysis table shows: (label, value per analysis).
fn rows(analyses: &[&Analysis]) -> Vec<(&'static str, Vec<String>)> {
    let row = |label, f: &dyn Fn(&Analysis) -> String| (label, analyses.iter().map(|a| f(a)).collect());
    vec![
        row("Integrated", &|a| reading(a.integrated_lufs, 1, "LUFS")),
        row("Loudness range", &|a| reading(a.loudness_range_lu, 1, "LU")),
        row("Max momentary", &|a| reading(a.max_momentary_lufs, 1, "LUFS")),
        row("Max short-term", &|a| reading(a.max_short_term_lufs, 1, "LUFS")),
        row("True peak", &|a| reading(a.true_peak_dbtp, 2, "dBTP")),
        row("Sample peak", &|a| reading(a.sample_peak_dbfs, 2, "dBFS")),
        row("PLR", &|a| reading(a.plr_db, 1, "dB")),
        row("PSR (lowest)", &|a| reading(a.psr_db, 1, "dB")),
        row("Crest", &|a| reading(a.crest_db, 1, "dB")),
        row("Correlation", &|a| reading(a.correlation, 2, "")),
        row("Low-band corr.", &|a| reading(a.low_band_correlation, 2, "")),
        row("Width", &|a| reading(a.width_percent, 0, "%")),
        row("DC offset", &|a| {
            reading(a.dc_offset_dbfs.iter().flatten().copied().reduce(f64::max), 1, "dBFS")
        }),
        row("Overs (> 0 dBTP)", &|a| format!("{} in {} events", a.overs, a.over_events)),
        row("Duration", &|a| duration(a.duration_s)),
        row("Format", &|a| {
            format!(
                "{} Hz, {}",
                a.sample_rate_hz,
                if a.channels == 1 { "mono".into() } else { format!("{} ch", a.channels) }
            )
        }),
    ]
}

/// "3:07.4".
pub fn duration(seconds: f64) -> String {
    let minutes = (seconds / 60.0).floor();
    format!("{}:{:04.1}", minutes as u64, seconds - minutes * 60.0)
}

/// Lays out a table: a header row and rows of cells, the first column left-aligned, the others
/// right-aligned.
fn table(header: &[String], body: &[Vec<String>]) -> String {
    let columns = header.len();
    let width = |i: usize| {
        std::iter::once(&header[i])
            .chain(body.iter().map(|r| &r[i]))
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(width).collect();
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i == 0 {
                let _ = write!(text, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(text, "   {}{cell}", " ".repeat(pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    for row in body {
        line(row);
    }
    out
}

/// The table of one or more analyses side by side, headed by `names`.
pub fn analysis_table(names: &[&str], analyses: &[&Analysis]) -> String {
    let header: Vec<String> =
        std::iter::once(String::new()).chain(names.iter().map(|n| (*n).to_owned())).collect();
    let body: Vec<Vec<String>> = rows(analyses)
        .into_iter()
        .map(|(label, values)| std::iter::once(label.to_owned()).chain(values).collect())
        .collect();
    table(&header, &body)
}

/// The readiness checks of one file against `target`: a status tag, the check, its value and
/// its advice, mix readiness first, then delivery.
pub fn checks_table(
    name: &str,
    target: &crate::delivery::DeliveryTarget,
    checks: &[crate::delivery::Check],
) -> String {
    use crate::delivery::checks::{Group, Status};
    let loudness =
        target.target_lufs.map_or_else(|| "no loudness target".to_owned(), |l| format!("{l:.0} LUFS"));
    let mut out =
        format!("Checks for {name} against {} ({loudness}, {:.1} dBTP)\n", target.name, target.ceiling_dbtp);
    for (group, heading) in [(Group::Mix, "Mix readiness"), (Group::Delivery, "Delivery")] {
        let rows: Vec<[String; 4]> = checks
            .iter()
            .filter(|c| c.group == group)
            .map(|c| {
                let tag = match c.status {
                    Status::Pass => "pass",
                    Status::Warn => "WARN",
                    Status::Fail => "FAIL",
                    Status::Unknown => " -- ",
                };
                [
                    format!("[{tag}]"),
                    c.title.to_owned(),
                    c.value_text.replace('−', "-"),
                    c.advice.replace('−', "-"),
                ]
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        // Left-aligned columns (text, not figures).
        let width = |column: usize| rows.iter().map(|r| r[column].chars().count()).max().unwrap_or(0);
        let (title_width, value_width) = (width(1), width(2));
        let _ = writeln!(out, "\n{heading}");
        for [tag, title, value, advice] in &rows {
            let _ = writeln!(out, "  {tag} {title:<title_width$}  {value:<value_width$}  {advice}");
        }
    }
    out.trim_end().replace('−', "-")
}

/// The comparison table: one column per reference.
pub fn compare_table(mix_name: &str, mix: &Analysis, comparisons: &[Comparison]) -> String {
    let mut out = format!(
        "{mix_name}: {}, LRA {}, true peak {}\n\n",
        reading(mix.integrated_lufs, 1, "LUFS"),
        reading(mix.loudness_range_lu, 1, "LU"),
        reading(mix.true_peak_dbtp, 2, "dBTP")
    );
    let header: Vec<String> = std::iter::once("mix minus reference".to_owned())
        .chain(comparisons.iter().map(|c| c.reference.clone()))
        .collect();
    let mut body: Vec<Vec<String>> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&Comparison) -> String| {
        body.push(std::iter::once(label.to_owned()).chain(comparisons.iter().map(f)).collect());
    };
    row("Gain to match (on ref)", &|c| signed(c.reference_gain_to_match_db, 1, "dB"));
    row("Loudness", &|c| signed(c.loudness_difference_lu, 1, "LU"));
    row("Loudness range", &|c| signed(c.loudness_range_difference_lu, 1, "LU"));
    row("True peak", &|c| signed(c.true_peak_difference_db, 2, "dB"));
    row("PLR", &|c| signed(c.plr_difference_db, 1, "dB"));
    row("Width", &|c| signed(c.width_difference_percent, 0, "%"));
    row("Correlation", &|c| signed(c.correlation_difference, 2, ""));
    if let Some(first) = comparisons.first() {
        for (i, band) in first.octave_bands.iter().enumerate() {
            let label = format!("Tonal {}", band_name(band.centre_hz));
            row(&label, &|c| signed(c.octave_bands[i].difference_db, 1, "dB"));
        }
    }
    row("Tonal difference (RMS)", &|c| reading(c.tonal_difference_rms_db, 1, "dB"));
    out.push_str(&table(&header, &body));
    out.push_str(
        "\nTonal rows compare the balance at equal loudness: + means the mix has more of that octave.\n",
    );
    out
}

/// The album table: the album's figures, then one row per track.
pub fn album_table(album: &AlbumReport) -> String {
    let mut out = format!(
        "Album: {} integrated, LRA {}, true peak {}, PLR {}, {} tracks, {}\n\n",
        reading(album.integrated_lufs, 1, "LUFS"),
        reading(album.loudness_range_lu, 1, "LU"),
        reading(album.true_peak_dbtp, 2, "dBTP"),
        reading(album.plr_db, 1, "dB"),
        album.tracks.len(),
        duration(album.duration_s)
    );
    let header = ["track", "vs album", "tonal (RMS)", "notes"].map(String::from);
    let body: Vec<Vec<String>> = album
        .tracks
        .iter()
        .map(|t| {
            vec![
                t.file.clone(),
                signed(t.loudness_deviation_lu, 1, "LU"),
                reading(t.tonal_deviation_rms_db, 1, "dB"),
                if t.notes.is_empty() { "ok".to_owned() } else { t.notes.join("; ") },
            ]
        })
        .collect();
    out.push_str(&table(&header, &body));
    let _ = writeln!(out, "\nVerdict: {}", album.verdict);
    out
}

/// The self-test table.
pub fn selftest_table(sample_rate_hz: f64, results: &[CaseResult]) -> String {
    let header = ["case", "quantity", "expected", "measured", "deviation", "result"].map(String::from);
    let body: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            vec![
                r.case.clone(),
                r.quantity.to_owned(),
                format!("{:.2}", r.expected),
                format!("{:.3}", r.measured),
                format!("{:+.3}", r.deviation),
                if r.passed { "pass" } else { "FAIL" }.to_owned(),
            ]
        })
        .collect();
    let passed = results.iter().filter(|r| r.passed).count();
    format!(
        "EBU Tech 3341/3342 conformance at {sample_rate_hz} Hz (tolerances: ±0.1 LU; LRA ±1 LU; true peak +0.2/−0.4 dB)\n\n{}\n{passed} of {} cases passed\n",
        table(&header, &body),
        results.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_show_missing_readings_as_dashes() {
        let t = table(
            &["".into(), "a".into(), "longer name".into()],
            &[vec!["Integrated".into(), "-14.0 LUFS".into(), "—".into()]],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].chars().count(), lines[1].chars().count());
        assert_eq!(lines[2].chars().count(), lines[1].chars().count());
        assert_eq!(reading(None, 1, "LU"), "—");
        assert_eq!(reading(Some(f64::NEG_INFINITY), 1, "LU"), "—");
        assert_eq!(signed(Some(1.26), 1, "dB"), "+1.3 dB");
        assert_eq!(duration(187.44), "3:07.4");
    }
}
