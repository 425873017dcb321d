//! A generic export layer: any read that can be put as a [`Table`] (a title, column
//! headers and rows of typed cells) is answered as CSV or XLSX, chosen with
//! `?format=csv|xlsx` (CSV when absent; anything else is a 400 problem document).
//!
//! Choices, made once here for every export:
//! - **CSV** is UTF-8 with a byte-order mark (so Excel in Sweden shows å, ä and ö), rows
//!   end in CRLF, and the separator is the **semicolon**: Swedish Excel uses the decimal
//!   comma and so splits a double-clicked CSV on `;`, not `,`. Decimals are written with a
//!   decimal comma (`7,5`), integers plainly. A text cell that Excel would take for a
//!   formula (starting with `=`, `+`, `-`, `@`, their full-width forms, tab, CR or LF) is
//!   prefixed with `'`.
//! - **XLSX** has one sheet named after the table, a bold, frozen header row with an
//!   autofilter, and column widths fitted to the content (8 to 60 characters). Such a
//!   formula-like text cell is written as text with Excel's quote prefix.
//! - **Date-times** are shown in Swedish time (Europe/Stockholm, summer time included):
//!   in XLSX as real Excel date-times formatted `yyyy-mm-dd hh:mm:ss` (they sort and
//!   filter as dates), in CSV as the same text, which Swedish Excel also reads as a date.
//!   An export that needs the exact instant adds its own UTC column (the audit extract
//!   does).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Europe::Stockholm;
use kurslogg_domain::text::{displayable, one_line};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;

/// One value of an exported table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing (an empty cell).
    Empty,
    /// Text.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// A decimal number shown with `places` decimals.
    Decimal {
        /// The value.
        value: f64,
        /// Decimals shown.
        places: u8,
    },
    /// An instant, shown in Swedish time.
    DateTime(DateTime<Utc>),
}

impl Cell {
    /// Text, or an empty cell for `None`.
    pub fn text(value: Option<impl Into<String>>) -> Self {
        value.map_or(Cell::Empty, |v| Cell::Text(v.into()))
    }

    /// A decimal with `places` decimals.
    pub fn decimal(value: f64, places: u8) -> Self {
        Cell::Decimal { value, places }
    }

    /// An RFC 3339 instant as a date-time; other text stays text, absent is empty.
    pub fn instant(value: Option<&str>) -> Self {
        match value {
            None | Some("") => Cell::Empty,
            Some(raw) => DateTime::parse_from_rfc3339(raw)
                .map(|t| Cell::DateTime(t.with_timezone(&Utc)))
                .unwrap_or_else(|_| Cell::Text(raw.to_string())),
        }
    }

    /// "ja" or "nej".
    pub fn yes_no(value: bool) -> Self {
        Cell::Text(if value { "ja" } else { "nej" }.to_string())
    }
}

impl From<String> for Cell {
    fn from(value: String) -> Self {
        Cell::Text(value)
    }
}

impl From<&str> for Cell {
    fn from(value: &str) -> Self {
        Cell::Text(value.to_string())
    }
}

impl From<i64> for Cell {
    fn from(value: i64) -> Self {
        Cell::Integer(value)
    }
}

impl From<Option<i64>> for Cell {
    fn from(value: Option<i64>) -> Self {
        value.map_or(Cell::Empty, Cell::Integer)
    }
}

/// A table to export: one sheet of an XLSX workbook, or one CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// What the table is; names the XLSX sheet (shortened to Excel's 31 characters).
    pub title: String,
    /// The file name without extension; reduced to ASCII letters, digits, `-`, `_`, `.`.
    pub file_stem: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows, each with (at most) one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these headers.
    pub fn new(title: impl Into<String>, file_stem: impl Into<String>, columns: Vec<String>) -> Self {
        Self { title: title.into(), file_stem: file_stem.into(), columns, rows: Vec::new() }
    }
}

/// The file formats an export can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ToSchema)]
pub enum ExportFormat {
    /// Semicolon-separated UTF-8 text with a byte-order mark.
    #[default]
    Csv,
    /// An Excel workbook.
    Xlsx,
}

impl ExportFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// Which file format to answer with.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `csv` (default: semicolon-separated, UTF-8 with BOM) or `xlsx` (Excel).
    pub format: Option<String>,
}

impl FormatQuery {
    /// The format asked for, or a 400 problem naming the ones there are.
    pub fn format(&self) -> Result<ExportFormat, ApiError> {
        match self.format.as_deref().map(str::trim) {
            None | Some("") => Ok(ExportFormat::Csv),
            Some(f) if f.eq_ignore_ascii_case("csv") => Ok(ExportFormat::Csv),
            Some(f) if f.eq_ignore_ascii_case("xlsx") => Ok(ExportFormat::Xlsx),
            Some(other) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("format must be csv or xlsx, not {other:?}"),
            )),
        }
    }
}

/// An export could not be written (a bug or a limit, never the user's doing).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// CSV writing failed.
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    /// XLSX writing failed.
    #[error("xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// An I/O error while finishing the CSV.
    #[error("csv: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        tracing::error!(error = %e, "export failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_failed", "the export could not be written")
    }
}

/// `table` as a file in `format`, with `Content-Type` and
/// `Content-Disposition: attachment; filename=…`.
pub fn answer(table: &Table, format: ExportFormat) -> Result<Response, ApiError> {
    let body = match format {
        ExportFormat::Csv => to_csv(table)?,
        ExportFormat::Xlsx => to_xlsx(table)?,
    };
    let filename = format!("{}.{}", ascii_stem(&table.file_stem), format.extension());
    Ok(attachment(body, format.content_type(), &filename))
}

/// A download: `body` with its media type and `Content-Disposition: attachment`.
pub fn attachment(body: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!("attachment; filename=\"{}\"", ascii_stem(filename));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A file name of ASCII letters, digits, `-`, `_` and `.` (å, ä → a, ö → o; others → `-`).
pub fn ascii_stem(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = match c {
            'å' | 'ä' | 'à' | 'á' => 'a',
            'Å' | 'Ä' | 'À' | 'Á' => 'A',
            'ö' | 'ø' | 'ó' => 'o',
            'Ö' | 'Ø' | 'Ó' => 'O',
            'é' | 'è' | 'ë' => 'e',
            'É' | 'È' => 'E',
            'ü' => 'u',
            'Ü' => 'U',
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => c,
            _ => '-',
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() || out.starts_with('.') {
        format!("export{out}")
    } else {
        out
    }
}

/// An instant as Swedish local time, to the second (as shown).
fn local(t: &DateTime<Utc>) -> chrono::NaiveDateTime {
    let local = t.with_timezone(&Stockholm).naive_local();
    chrono::Timelike::with_nanosecond(&local, 0).unwrap_or(local)
}

/// Swedish local time as `yyyy-mm-dd hh:mm:ss`.
pub fn local_text(t: &DateTime<Utc>) -> String {
    local(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A number with `places` decimals and a decimal comma.
fn decimal_comma(value: f64, places: u8) -> String {
    format!("{value:.*}", usize::from(places)).replace('.', ",")
}

/// What a cell shows as text.
fn display(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(s) => s.clone(),
        Cell::Integer(i) => i.to_string(),
        Cell::Decimal { value, places } => decimal_comma(*value, *places),
        Cell::DateTime(t) => local_text(t),
    }
}

/// `table` as CSV: UTF-8 with BOM, `;`-separated, CRLF, header row first.
pub fn to_csv(table: &Table) -> Result<Vec<u8>, ExportError> {
    let mut out = Vec::with_capacity(64 + table.rows.len() * 64);
    out.extend_from_slice("\u{feff}".as_bytes());
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(&mut out);
    writer.write_record(table.columns.iter().map(|h| defuse(h)))?;
    for row in &table.rows {
        writer.write_record(row.iter().map(|cell| match cell {
            // Line breaks stay (the cell is quoted); any other control character, which
            // a spreadsheet would choke on, shows as U+FFFD.
            Cell::Text(s) => defuse(&displayable(s)),
            other => display(other),
        }))?;
    }
    writer.flush()?;
    drop(writer);
    Ok(out)
}

/// Whether a spreadsheet program would take text beginning like this for a formula
/// (or for a line it trims and then reads as one): `=`, `+`, `-`, `@`, their full-width
/// forms, a tab, CR or LF. Names, titles, reasons and notes are typed by people, so every
/// text cell is checked (docs/decisions/0010).
fn looks_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r', '\n', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}'])
}

/// Text that Excel would run as a formula, made inert with a leading `'`.
fn defuse(text: &str) -> String {
    if looks_like_formula(text) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// Excel's longest cell text.
const XLSX_MAX_TEXT: usize = 32_767;

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, no leading or
/// trailing apostrophe.
fn sheet_name(title: &str) -> String {
    let cleaned: String = one_line(title)
        .chars()
        .map(|c| if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') { ' ' } else { c })
        .collect();
    let name: String = cleaned.trim().trim_matches('\'').trim().chars().take(31).collect();
    let name = name.trim().to_string();
    if name.is_empty() || name.eq_ignore_ascii_case("history") {
        "Export".to_string()
    } else {
        name
    }
}

/// `table` as an XLSX workbook with one sheet.
pub fn to_xlsx(table: &Table) -> Result<Vec<u8>, ExportError> {
    use rust_xlsxwriter::{Format, FormatAlign, Workbook};

    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name(&table.title))?;
    let bold = Format::new().set_bold().set_align(FormatAlign::Top);
    let date_time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let quoted = Format::new().set_quote_prefix();
    let decimals: Vec<Format> = (0..=6u8)
        .map(|p| {
            Format::new().set_num_format(if p == 0 { "0".to_string() } else { format!("0.{}", "0".repeat(p.into())) })
        })
        .collect();

    // Widths in characters, from the header (and its filter button) and every cell's text.
    let mut widths: Vec<usize> = table.columns.iter().map(|h| h.chars().count() + 2).collect();
    for (col, header) in table.columns.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, header, &bold)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (col, cell) in row.iter().enumerate() {
            let c = col as u16;
            match cell {
                Cell::Empty => {}
                Cell::Text(s) => {
                    let s: String = if s.chars().count() > XLSX_MAX_TEXT {
                        s.chars().take(XLSX_MAX_TEXT).collect()
                    } else {
                        s.clone()
                    };
                    // Stored as text it is never run, but a quote prefix keeps it text
                    // when someone edits the cell or saves the sheet as CSV.
                    if looks_like_formula(&s) {
                        sheet.write_string_with_format(r, c, &s, &quoted)?;
                    } else {
                        sheet.write_string(r, c, &s)?;
                    }
                }
                Cell::Integer(i) => {
                    sheet.write_number(r, c, *i as f64)?;
                }
                Cell::Decimal { value, places } => {
                    let format = &decimals[usize::from((*places).min(6))];
                    sheet.write_number_with_format(r, c, *value, format)?;
                }
                Cell::DateTime(t) => {
                    sheet.write_datetime_with_format(r, c, local(t), &date_time)?;
                }
            }
            let shown = match cell {
                Cell::Text(s) => s.lines().map(|l| l.chars().count()).max().unwrap_or(0),
                other => display(other).chars().count(),
            };
            if let Some(w) = widths.get_mut(col) {
                *w = (*w).max(shown);
            } else {
                widths.resize(col, 0);
                widths.push(shown);
            }
        }
    }
    for (col, width) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, (*width + 2).clamp(8, 60) as f64)?;
    }
    if !table.columns.is_empty() {
        sheet.set_freeze_panes(1, 0)?;
        sheet.autofilter(0, 0, table.rows.len() as u32, table.columns.len() as u16 - 1)?;
    }
    Ok(workbook.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn table() -> Table {
        let mut t = Table::new("Närvaro: LVU/grund [HT2027]", "närvaro LVU", vec!["Namn".into(), "Timmar".into()]);
        t.rows.push(vec!["Åsa Öberg".into(), Cell::decimal(7.5, 1)]);
        t.rows.push(vec!["=SUM(A1)".into(), Cell::DateTime(Utc.with_ymd_and_hms(2027, 9, 1, 6, 0, 0).unwrap())]);
        t
    }

    #[test]
    fn csv_has_bom_semicolons_decimal_comma_and_local_time() {
        let bytes = to_csv(&table()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text, "\u{feff}Namn;Timmar\r\nÅsa Öberg;7,5\r\n'=SUM(A1);2027-09-01 08:00:00\r\n");
    }

    #[test]
    fn names_are_safe() {
        assert_eq!(sheet_name("Närvaro: LVU/grund [HT2027]"), "Närvaro  LVU grund  HT2027");
        assert_eq!(sheet_name("''"), "Export");
        assert_eq!(sheet_name(&"x".repeat(40)).len(), 31);
        assert_eq!(ascii_stem("närvaro LVU/Öckerö"), "narvaro-LVU-Ockero");
        assert_eq!(ascii_stem("../../etc"), "export..-..-etc");
        assert_eq!(ascii_stem("å"), "a");
        assert_eq!(ascii_stem("\"\""), "export");
    }

    #[test]
    fn formula_like_text_is_defused_and_line_breaks_stay_inside_their_cell() {
        let mut t = Table::new("Test", "test", vec!["Namn".into()]);
        for hostile in ["+46 70", "-1+1", "@SUM(A1)", "\tx", "\r\n=1", "\u{FF1D}1+1", "Eve\r\nEvil", "Nul\u{0}x"] {
            t.rows.push(vec![hostile.into()]);
        }
        let text = String::from_utf8(to_csv(&t).unwrap()).unwrap();
        let mut reader =
            csv::ReaderBuilder::new().delimiter(b';').from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let cells: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_string()).collect();
        assert_eq!(
            cells,
            ["'+46 70", "'-1+1", "'@SUM(A1)", "'\tx", "'\n=1", "'\u{FF1D}1+1", "Eve\nEvil", "Nul\u{FFFD}x"]
        );
        assert_eq!(&to_xlsx(&t).unwrap()[..2], b"PK");
        assert_eq!(sheet_name("Kurs\r\nBEGIN\u{0}"), "Kurs BEGIN");
    }

    #[test]
    fn xlsx_is_a_zip() {
        let bytes = to_xlsx(&table()).unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }

    #[test]
    fn formats_parse() {
        let q = |f: &str| FormatQuery { format: Some(f.into()) }.format();
        assert_eq!(q("csv").unwrap(), ExportFormat::Csv);
        assert_eq!(q("XLSX").unwrap(), ExportFormat::Xlsx);
        assert!(q("pdf").is_err());
        assert_eq!(FormatQuery::default().format().unwrap(), ExportFormat::Csv);
    }
}
