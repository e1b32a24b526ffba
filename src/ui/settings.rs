//! The settings pane: one row per setting with its drafted value, whether that value is the
//! global default or this session's, and a note (the memory planner's verdict, how fast a
//! quantization runs here, a setting that has no effect as set); then the pane's message and
//! its keys, read from the keymap.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::engine::quantization::CpuSpeed;
use crate::engine::{Quantization, SamplingField};
use crate::keymap::{Action, Keymap, Layer};
use crate::markdown::CodeTheme;
use crate::sanitize::sanitize;
use crate::state::settings_pane::{Confirm, SettingsRow};
use crate::state::{AppState, SettingsPane};
use crate::update::format_number;

const LABEL_WIDTH: usize = 20;
const GIB: f64 = (1u64 << 30) as f64;

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn draw(state: &AppState, pane: &SettingsPane, frame: &mut Frame, area: Rect) {
    let width = area.width.saturating_sub(2).clamp(20, 110);
    let height = (pane.rows.len() as u16 + 7).min(area.height);
    let spot = Rect {
        x: area.x + area.width.saturating_sub(width) / 2,
        y: area.y + area.height.saturating_sub(height) / 2,
        width: width.min(area.width),
        height,
    };
    let inner_width = usize::from(spot.width.saturating_sub(2));
    let mut lines: Vec<Line> = pane.rows.iter().map(|row| row_line(pane, *row, inner_width)).collect();
    // Keep the selected row in view in a short terminal.
    let room = usize::from(spot.height.saturating_sub(2)).saturating_sub(4);
    let first = pane.selected.saturating_sub(room.saturating_sub(1));
    lines.drain(..first.min(lines.len()));
    lines.truncate(room.max(1));
    lines.push(Line::default());
    lines.push(message_line(pane));
    lines.push(keys_line(&state.keymap));
    let title = match (&pane.survey, on_cpu_note(pane)) {
        (Some(s), note) if s.free_memory > 0 => {
            format!(" Settings · {:.1} GiB free{note} ", s.free_memory as f64 / GIB)
        }
        (_, note) => format!(" Settings{note} "),
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .title(title)
        .border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(Clear, spot);
    frame.render_widget(Paragraph::new(lines).block(block), spot);
}

fn on_cpu_note(pane: &SettingsPane) -> &'static str {
    if pane.on_gpu() {
        ""
    } else {
        " · CPU: quantized modes are the fast ones"
    }
}

fn row_line(pane: &SettingsPane, row: SettingsRow, width: usize) -> Line<'static> {
    let selected = pane.row() == row;
    let marker = if selected { "› " } else { "  " };
    let label_style = if selected {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    let value = match &pane.typing {
        Some(t) if t.row == row => format!("{}▏", sanitize(&t.text)),
        _ => value_text(pane, row),
    };
    let scope = match row {
        SettingsRow::Greedy => "",
        _ if pane.is_default(row) => "default",
        _ => "session",
    };
    let note = note_text(pane, row);
    let mut spans = vec![
        Span::styled(marker, label_style),
        Span::styled(format!("{:<LABEL_WIDTH$}", row.label()), label_style),
        Span::styled(value, Style::new().add_modifier(Modifier::BOLD)),
    ];
    if !scope.is_empty() {
        let color = if scope == "default" {
            Color::DarkGray
        } else {
            Color::Yellow
        };
        spans.push(Span::styled(format!("  [{scope}]"), Style::new().fg(color)));
    }
    if !note.is_empty() {
        spans.push(Span::styled(format!("  {note}"), dim()));
    }
    fit(Line::from(spans), width)
}

fn value_text(pane: &SettingsPane, row: SettingsRow) -> String {
    let d = &pane.draft;
    match row {
        SettingsRow::RunsOn => match &d.endpoint {
            None => "this machine".into(),
            Some(e) => sanitize(e).into_owned(),
        },
        SettingsRow::Model if d.model.is_empty() && d.endpoint.is_some() => "(the server's own)".into(),
        SettingsRow::Model => sanitize(&d.model).into_owned(),
        SettingsRow::Quantization if d.quantization.is_none() => "none".into(),
        SettingsRow::Quantization => d.quantization.to_string(),
        SettingsRow::Device => d.device.to_string(),
        SettingsRow::Sampling(field) => sampling_value(field, d.sampling.get(field)),
        SettingsRow::Greedy => "press g".into(),
        SettingsRow::SystemPrompt => match &d.system_prompt {
            None => "(none)".into(),
            Some(p) => {
                let first = p.lines().next().unwrap_or_default();
                let more = if p.lines().count() > 1 { " …" } else { "" };
                format!("{}{more}", sanitize(first))
            }
        },
        SettingsRow::Markdown => if d.look.markdown { "on" } else { "off" }.into(),
        SettingsRow::CodeTheme => match d.look.code_theme {
            CodeTheme::Dark => "dark".into(),
            CodeTheme::Light => "light".into(),
        },
    }
}

fn sampling_value(field: SamplingField, value: f64) -> String {
    if field.spec().off == Some(value) && field != SamplingField::Temperature {
        return "off".into();
    }
    let text = format_number(field, value);
    if field == SamplingField::Temperature && value == 0.0 {
        format!("{text} (greedy)")
    } else {
        text
    }
}

fn note_text(pane: &SettingsPane, row: SettingsRow) -> String {
    let d = &pane.draft;
    match row {
        SettingsRow::RunsOn if d.endpoint.is_some() && pane.served_models.is_empty() => {
            "t connects and lists the server's models".into()
        }
        SettingsRow::RunsOn => String::new(),
        SettingsRow::Model if d.endpoint.is_some() => {
            "the server's name for it; device and quantization are the server's".into()
        }
        SettingsRow::Model => {
            let choice = pane
                .survey
                .as_ref()
                .and_then(|s| s.models.iter().find(|m| m.name == d.model));
            let disk = match choice {
                Some(m) if m.on_disk => match m.size_on_disk {
                    Some(bytes) => format!("on disk, {:.1} GB", bytes as f64 / 1e9),
                    None => "on disk".into(),
                },
                Some(_) => "not downloaded: applying downloads it".into(),
                None => String::new(),
            };
            join(&[plan_note(pane, d.quantization), disk])
        }
        SettingsRow::Quantization => join(&[speed_note(pane, d.quantization), plan_note(pane, d.quantization)]),
        SettingsRow::Device => {
            let dtype = if pane.on_gpu() {
                "bf16".to_string()
            } else {
                "f32 (no bf16 matmul on a CPU)".to_string()
            };
            let feature = d.device.missing_feature().unwrap_or_default();
            join(&[dtype, feature.to_string()])
        }
        SettingsRow::Sampling(field) => field
            .idle_reason(&d.sampling)
            .or(match field {
                SamplingField::Temperature if !d.sampling.is_greedy() => field.spec().engine_note,
                SamplingField::MinP if d.sampling.min_p > 0.0 => field.spec().engine_note,
                _ => None,
            })
            .unwrap_or_default()
            .to_string(),
        SettingsRow::Greedy => "temperature 0, repetition penalty 1.05, 512 tokens".into(),
        SettingsRow::SystemPrompt => "Enter edits it in the message box".into(),
        SettingsRow::Markdown | SettingsRow::CodeTheme => String::new(),
    }
}

fn join(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" · ")
}

fn speed_note(pane: &SettingsPane, q: Quantization) -> String {
    if pane.on_gpu() {
        return String::new();
    }
    match q.cpu_speed() {
        CpuSpeed::Simd => "fast on a CPU",
        CpuSpeed::Scalar => "slow on a CPU (scalar kernels)",
        CpuSpeed::Dequantizes => "slow on a CPU (widened every step): for GPUs",
        CpuSpeed::Dense => "exact; on a CPU f32 on one core, slow",
    }
    .to_string()
}

fn plan_note(pane: &SettingsPane, q: Quantization) -> String {
    match pane.plan(q) {
        Some((estimate, fit)) => format!("~{:.1} GiB: {}", estimate.total_gib(), fit.label()),
        None => String::new(),
    }
}

fn message_line(pane: &SettingsPane) -> Line<'static> {
    if let Some((Confirm::WillNotFit { estimate, instead }, _)) = &pane.confirm {
        let mut text = format!("{estimate}. y loads anyway");
        if let Some(q) = instead {
            text.push_str(&format!(", q switches to {q}"));
        }
        text.push_str(", any other key cancels");
        return Line::from(Span::styled(text, Style::new().fg(Color::Yellow)));
    }
    match &pane.message {
        Some(m) if m.starts_with("invalid") || m.contains("not a number") || m.contains("cannot") => {
            Line::from(Span::styled(m.clone(), Style::new().fg(Color::Red)))
        }
        Some(m) => Line::from(Span::styled(m.clone(), dim())),
        None => Line::from(Span::styled(
            SettingsRow::help(pane.row()).unwrap_or_default().to_string(),
            dim(),
        )),
    }
}

fn keys_line(keymap: &Keymap) -> Line<'static> {
    let key = Style::new().fg(Color::Cyan);
    let mut spans = Vec::new();
    for (action, what) in [
        (Action::Decrease, "change"),
        (Action::Edit, "type"),
        (Action::Greedy, "greedy"),
        (Action::ResetField, "reset"),
        (Action::Apply, "apply"),
        (Action::SaveDefault, "save as default"),
        (Action::Close, "close"),
    ] {
        let Some(chord) = keymap.chords(Layer::Settings, action).first().map(ToString::to_string) else {
            continue;
        };
        if !spans.is_empty() {
            spans.push(Span::styled(" · ", dim()));
        }
        let chord = if action == Action::Decrease {
            let up = keymap.chords(Layer::Settings, Action::Increase);
            format!("{chord}/{}", up.first().map(ToString::to_string).unwrap_or_default())
        } else {
            chord
        };
        spans.push(Span::styled(chord, key));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}

/// Cuts a line to `width` columns.
fn fit(line: Line<'static>, width: usize) -> Line<'static> {
    let mut used = 0;
    let mut spans = Vec::new();
    for span in line.spans {
        let w = span.content.width();
        if used + w <= width {
            used += w;
            spans.push(span);
            continue;
        }
        let mut cut = String::new();
        for c in span.content.chars() {
            let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if used + cw + 1 > width {
                break;
            }
            used += cw;
            cut.push(c);
        }
        cut.push('…');
        spans.push(Span::styled(cut, span.style));
        break;
    }
    Line::from(spans)
}
