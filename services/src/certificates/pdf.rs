//! The documents as PDF, made with krilla: A4, Swedish, DejaVu Sans embedded (subset) so
//! that å, ä and ö render everywhere and the text can be selected and searched, the QR
//! code of the check address drawn as rectangles.
//!
//! The bytes depend only on the document's contents: no clock, no random ids (the
//! creation date is the date of issue, the document id a hash of the contents), so the
//! same certificate asked for twice is the same file.
//!
//! Layout is done first, into pages of drawing operations (text at a baseline, filled
//! rectangles, link areas), then drawn: text is measured with the font's own advances to
//! wrap paragraphs and start a new page when one is full.

use chrono::{DateTime, Datelike, Timelike, Utc};
use krilla::action::{Action, LinkAction};
use krilla::annotation::{Annotation, LinkAnnotation, Target};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime as PdfDateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::text::{Font, TextDirection};
use krilla::Document;
use sha2::{Digest, Sha256};

use super::{hours, CertificateDoc, RecordDoc};
use crate::mail::swedish;

static REGULAR: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");

/// A4 in points.
const WIDTH: f32 = 595.28;
const HEIGHT: f32 = 841.89;
const LEFT: f32 = 62.0;
const RIGHT: f32 = WIDTH - 62.0;
const TOP: f32 = 64.0;
const BOTTOM: f32 = HEIGHT - 56.0;
/// The organisation's colour (dark blue) and a quiet grey for labels.
const INK: (u8, u8, u8) = (0x1d, 0x2b, 0x3a);
const ACCENT: (u8, u8, u8) = (0x0b, 0x4f, 0x8a);
const MUTED: (u8, u8, u8) = (0x4a, 0x55, 0x60);
const PANEL: (u8, u8, u8) = (0xee, 0xf2, 0xf6);

/// The PDF could not be made (a font that does not load; never with the fonts compiled in).
#[derive(Debug, thiserror::Error)]
#[error("the PDF could not be made: {0}")]
pub struct PdfError(String);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Weight {
    Regular,
    Bold,
}

/// One thing to draw.
#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        weight: Weight,
        colour: (u8, u8, u8),
        text: String,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        colour: (u8, u8, u8),
    },
    /// Dark modules of a QR code at (x, y), each `module` points wide.
    Qr {
        x: f32,
        y: f32,
        module: f32,
        width: usize,
        dark: Vec<bool>,
    },
    Link {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        url: String,
    },
}

/// Text measured with the fonts' advance widths.
struct Measure {
    regular: skrifa::FontRef<'static>,
    bold: skrifa::FontRef<'static>,
}

impl Measure {
    fn new() -> Result<Self, PdfError> {
        let face = |data: &'static [u8]| skrifa::FontRef::new(data).map_err(|e| PdfError(e.to_string()));
        Ok(Self { regular: face(REGULAR)?, bold: face(BOLD)? })
    }

    fn width(&self, text: &str, size: f32, weight: Weight) -> f32 {
        use skrifa::MetadataProvider;
        let font = match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        };
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(skrifa::instance::Size::new(size), skrifa::instance::LocationRef::default());
        text.chars().map(|c| charmap.map(c).and_then(|g| metrics.advance_width(g)).unwrap_or(size * 0.6)).sum()
    }

    /// `word` in pieces no wider than `width` (an address longer than a line), broken
    /// between characters.
    fn pieces(&self, word: &str, size: f32, weight: Weight, width: f32) -> Vec<String> {
        let mut pieces = vec![String::new()];
        for c in word.chars() {
            let last = pieces.last_mut().expect("a piece");
            last.push(c);
            if last.chars().count() > 1 && self.width(last, size, weight) > width {
                last.pop();
                pieces.push(c.to_string());
            }
        }
        pieces
    }

    /// `text` broken into lines no wider than `width`, at word boundaries (a word longer
    /// than a line is broken between characters). Line breaks in the text are kept.
    fn wrap(&self, text: &str, size: f32, weight: Weight, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            let words = paragraph.split_whitespace().flat_map(|word| {
                if self.width(word, size, weight) > width {
                    self.pieces(word, size, weight, width)
                } else {
                    vec![word.to_string()]
                }
            });
            for word in words {
                let word = word.as_str();
                let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
                if !line.is_empty() && self.width(&candidate, size, weight) > width {
                    lines.push(std::mem::replace(&mut line, word.to_string()));
                } else {
                    line = candidate;
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// Pages being laid out, top to bottom.
struct Layout {
    measure: Measure,
    pages: Vec<Vec<Op>>,
    /// Where the next line's top is, on the last page.
    y: f32,
    /// Repeated at the foot of every page.
    footer: String,
}

impl Layout {
    fn new(footer: String) -> Result<Self, PdfError> {
        Ok(Self { measure: Measure::new()?, pages: vec![Vec::new()], y: TOP, footer })
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn keep(&mut self, height: f32) {
        if self.y + height > BOTTOM && self.y > TOP {
            self.pages.push(Vec::new());
            self.y = TOP;
        }
    }

    fn gap(&mut self, height: f32) {
        self.y += height;
    }

    /// One line of text at `x`, no wrapping.
    fn line_at(&mut self, x: f32, text: &str, size: f32, weight: Weight, colour: (u8, u8, u8)) {
        self.keep(size * 1.45);
        let baseline = self.y + size;
        self.ops().push(Op::Text { x, baseline, size, weight, colour, text: text.to_string() });
        self.y += size * 1.45;
    }

    /// A paragraph wrapped to the text width, from `x`.
    fn paragraph_at(&mut self, x: f32, text: &str, size: f32, weight: Weight, colour: (u8, u8, u8)) {
        for line in self.measure.wrap(text, size, weight, RIGHT - x) {
            self.line_at(x, &line, size, weight, colour);
        }
    }

    fn paragraph(&mut self, text: &str, size: f32, weight: Weight) {
        self.paragraph_at(LEFT, text, size, weight, INK);
    }

    /// A label in grey and its value beside it (wrapped in the value's column).
    fn field(&mut self, label: &str, value: &str) {
        let size = 10.5;
        let column = LEFT + 150.0;
        let lines = self.measure.wrap(value, size, Weight::Regular, RIGHT - column);
        self.keep(size * 1.45 * lines.len() as f32);
        let baseline = self.y + size;
        self.ops().push(Op::Text {
            x: LEFT,
            baseline,
            size,
            weight: Weight::Bold,
            colour: MUTED,
            text: label.to_string(),
        });
        for line in lines {
            self.line_at(column, &line, size, Weight::Regular, INK);
        }
        self.y += 3.0;
    }

    /// A thin rule across the text width.
    fn rule(&mut self) {
        let y = self.y;
        self.ops().push(Op::Rect { x: LEFT, y, w: RIGHT - LEFT, h: 0.8, colour: ACCENT });
        self.y += 10.0;
    }

    /// The panel that says where to check the document, with the QR code of `link`.
    fn check_panel(&mut self, heading: &str, text: &str, shown_url: &str, link: &str) -> Result<(), PdfError> {
        let code = qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::M)
            .map_err(|e| PdfError(e.to_string()))?;
        let width = code.width();
        let side = 92.0_f32;
        let module = side / width as f32;
        let text_width = RIGHT - LEFT - side - 36.0;
        let size = 9.5;
        let lines = self.measure.wrap(text, size, Weight::Regular, text_width);
        let url_lines = self.measure.wrap(shown_url, size, Weight::Bold, text_width);
        let height = (side + 24.0).max(18.0 + 16.0 + (lines.len() + url_lines.len()) as f32 * size * 1.45 + 12.0);
        self.keep(height + 8.0);
        let top = self.y;
        self.ops().push(Op::Rect { x: LEFT, y: top, w: RIGHT - LEFT, h: height, colour: PANEL });
        let qr_x = RIGHT - side - 12.0;
        let qr_y = top + (height - side) / 2.0;
        let dark = code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
        self.ops().push(Op::Qr { x: qr_x, y: qr_y, module, width, dark });
        self.ops().push(Op::Link { x: qr_x, y: qr_y, w: side, h: side, url: link.to_string() });
        let x = LEFT + 14.0;
        let mut baseline = top + 14.0 + 11.0;
        self.ops().push(Op::Text {
            x,
            baseline,
            size: 11.0,
            weight: Weight::Bold,
            colour: ACCENT,
            text: heading.into(),
        });
        baseline += 18.0;
        for line in lines {
            self.ops().push(Op::Text { x, baseline, size, weight: Weight::Regular, colour: INK, text: line });
            baseline += size * 1.45;
        }
        let first_url_line = baseline;
        for line in url_lines {
            self.ops().push(Op::Text { x, baseline, size, weight: Weight::Bold, colour: ACCENT, text: line });
            baseline += size * 1.45;
        }
        let url_height = baseline - first_url_line;
        self.ops().push(Op::Link { x, y: first_url_line - size, w: text_width, h: url_height, url: link.to_string() });
        self.y = top + height + 8.0;
        Ok(())
    }
}

/// A course certificate as PDF.
pub fn certificate_pdf(doc: &CertificateDoc) -> Result<Vec<u8>, PdfError> {
    let mut layout = Layout::new(format!("Intyg {}", doc.number))?;
    layout.line_at(LEFT, &doc.organiser, 12.0, Weight::Bold, ACCENT);
    layout.rule();
    layout.gap(14.0);
    layout.line_at(LEFT, "INTYG", 30.0, Weight::Bold, INK);
    layout.gap(6.0);
    layout.paragraph("Härmed intygas att", 11.5, Weight::Regular);
    layout.gap(2.0);
    layout.paragraph(&doc.holder, 20.0, Weight::Bold);
    layout.gap(2.0);
    let period = period(doc.starts_at(), doc.ends_at());
    layout.paragraph(
        &format!("har genomgått kursen {} ({}, {}), {}.", doc.title, doc.course, doc.term, period),
        11.5,
        Weight::Regular,
    );
    layout.gap(14.0);

    layout.line_at(LEFT, "Kursens innehåll", 13.0, Weight::Bold, ACCENT);
    layout.paragraph(&doc.description, 10.5, Weight::Regular);
    layout.gap(6.0);
    if !doc.competence_areas.is_empty() {
        layout.field("Kompetensområden", &doc.competence_areas.join(", "));
    }
    layout.field("Utbildare", &doc.trainer);
    layout.field("Plats", &doc.place);
    layout.field("Tid", &period);
    layout.field(
        "Närvaro",
        &format!(
            "{} av {} tillfällen, {} av kursens {}",
            doc.attended(),
            doc.sessions.len(),
            hours(doc.minutes_attended()),
            hours(doc.sessions.iter().map(|s| s.minutes).sum())
        ),
    );
    layout.gap(8.0);

    layout.line_at(LEFT, "Kursens tillfällen", 13.0, Weight::Bold, ACCENT);
    for (i, session) in doc.sessions.iter().enumerate() {
        let size = 9.5;
        layout.keep(size * 1.45);
        let baseline = layout.y + size;
        let columns = [
            (LEFT, format!("{}.", i + 1)),
            (LEFT + 22.0, swedish::span(session.starts_at, session.ends_at)),
            (LEFT + 300.0, hours(session.minutes)),
            (LEFT + 380.0, if session.present { "närvarande".to_string() } else { "frånvarande".to_string() }),
        ];
        for (x, text) in columns {
            layout.ops().push(Op::Text { x, baseline, size, weight: Weight::Regular, colour: INK, text });
        }
        layout.y += size * 1.45;
    }
    layout.gap(14.0);

    layout.field("Intygsnummer", &doc.number);
    layout.field("Utfärdat", &swedish::short_date(doc.issued_at));
    layout.field("Utfärdat av", &doc.organiser);
    layout.gap(10.0);
    layout.check_panel(
        "Kontrollera intyget",
        &format!(
            "Den som får intyget kan kontrollera att det är äkta och inte återkallat: gå till {} och skriv \
             intygsnumret och innehavarens namn, eller skanna QR-koden.",
            doc.check_page
        ),
        &doc.check_link,
        &doc.check_link,
    )?;

    let title = format!("Intyg: {} – {}", doc.title, doc.holder);
    let subject = format!("Intyg {} för kursen {} ({})", doc.number, doc.title, doc.course);
    finish(layout, &title, &subject, &doc.organiser, doc.issued_at)
}

/// A person's list of completed courses as PDF ("utbildningsbevis").
pub fn record_pdf(doc: &RecordDoc) -> Result<Vec<u8>, PdfError> {
    let (layout, title, subject, author, issued) = record_layout(doc)?;
    finish(layout, &title, &subject, &author, issued)
}

/// The record laid out, with its title, subject, author and date.
fn record_layout(doc: &RecordDoc) -> Result<(Layout, String, String, String, DateTime<Utc>), PdfError> {
    let organisers = {
        let mut all: Vec<&str> = doc.courses.iter().map(|c| c.organiser.as_str()).collect();
        all.sort_unstable();
        all.dedup();
        all.join(", ")
    };
    let mut layout = Layout::new(format!("Utbildningsbevis för {}", doc.holder))?;
    layout.line_at(LEFT, if organisers.is_empty() { "Kurslogg" } else { &organisers }, 12.0, Weight::Bold, ACCENT);
    layout.rule();
    layout.gap(14.0);
    layout.line_at(LEFT, "UTBILDNINGSBEVIS", 26.0, Weight::Bold, INK);
    layout.gap(4.0);
    layout.paragraph(&doc.holder, 18.0, Weight::Bold);
    layout.gap(2.0);
    let total: u32 = doc.courses.iter().map(CertificateDoc::minutes_attended).sum();
    let summary = match doc.courses.len() {
        0 => "har ännu inga genomgångna kurser med intyg.".to_string(),
        1 => format!("har genomgått en kurs med intyg, {} i allt.", hours(total)),
        n => format!("har genomgått {n} kurser med intyg, {} i allt.", hours(total)),
    };
    layout.paragraph(&summary, 11.5, Weight::Regular);
    layout.gap(12.0);
    for course in &doc.courses {
        let size = 10.0;
        // Keep a course's lines together on one page.
        layout.keep(size * 1.45 * 4.0 + 12.0);
        layout.paragraph(&format!("{} ({}, {})", course.title, course.course, course.term), 11.0, Weight::Bold);
        layout.paragraph_at(
            LEFT,
            &format!(
                "{} · {} av {} tillfällen · {} · {}",
                period(course.starts_at(), course.ends_at()),
                course.attended(),
                course.sessions.len(),
                hours(course.minutes_attended()),
                course.organiser
            ),
            size,
            Weight::Regular,
            INK,
        );
        if !course.competence_areas.is_empty() {
            layout.paragraph_at(
                LEFT,
                &format!("Kompetensområden: {}", course.competence_areas.join(", ")),
                size,
                Weight::Regular,
                MUTED,
            );
        }
        layout.paragraph_at(
            LEFT,
            &format!("Intyg {}, utfärdat {}", course.number, swedish::short_date(course.issued_at)),
            size,
            Weight::Regular,
            MUTED,
        );
        layout.gap(10.0);
    }
    let issued = doc.courses.iter().map(|c| c.issued_at).max();
    if let Some(issued) = issued {
        layout.field("Sammanställt", &format!("{} (det senaste intygets datum)", swedish::short_date(issued)));
    }
    layout.gap(8.0);
    layout.check_panel(
        "Kontrollera intygen",
        &format!(
            "Varje intyg ovan kan kontrolleras: gå till {} och skriv intygsnumret och innehavarens namn, eller \
             skanna QR-koden.",
            doc.check_page
        ),
        &doc.check_page,
        &doc.check_page,
    )?;
    let title = format!("Utbildningsbevis – {}", doc.holder);
    let subject = format!("Genomgångna kurser med intyg för {}", doc.holder);
    let author = if organisers.is_empty() { "Kurslogg".to_string() } else { organisers };
    Ok((layout, title, subject, author, issued.unwrap_or_default()))
}

/// "1 september 2027" or "1 september 2027 – 8 september 2027", in Stockholm.
fn period(first: DateTime<Utc>, last: DateTime<Utc>) -> String {
    let (a, b) = (swedish::short_date(first), swedish::short_date(last));
    if a == b {
        a
    } else {
        format!("{a} – {b}")
    }
}

fn colour((r, g, b): (u8, u8, u8)) -> Fill {
    Fill { paint: rgb::Color::new(r, g, b).into(), opacity: NormalizedF32::ONE, rule: FillRule::NonZero }
}

fn rect_path(builder: &mut PathBuilder, x: f32, y: f32, w: f32, h: f32) {
    builder.move_to(x, y);
    builder.line_to(x + w, y);
    builder.line_to(x + w, y + h);
    builder.line_to(x, y + h);
    builder.close();
}

/// Draws the laid-out pages, with page numbers and the footer, and sets the metadata.
fn finish(
    layout: Layout,
    title: &str,
    subject: &str,
    author: &str,
    created: DateTime<Utc>,
) -> Result<Vec<u8>, PdfError> {
    let regular = Font::new(REGULAR.into(), 0).ok_or_else(|| PdfError("DejaVu Sans does not load".into()))?;
    let bold = Font::new(BOLD.into(), 0).ok_or_else(|| PdfError("DejaVu Sans Bold does not load".into()))?;
    let count = layout.pages.len();
    let mut hasher = Sha256::new();
    let mut document = Document::new();
    for (n, mut ops) in layout.pages.into_iter().enumerate() {
        ops.push(Op::Text {
            x: LEFT,
            baseline: HEIGHT - 32.0,
            size: 8.0,
            weight: Weight::Regular,
            colour: MUTED,
            text: format!("{} · sida {} av {}", layout.footer, n + 1, count),
        });
        hasher.update(format!("{ops:?}").as_bytes());
        let settings = PageSettings::from_wh(WIDTH, HEIGHT).ok_or_else(|| PdfError("page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut links = Vec::new();
        {
            let mut surface = page.surface();
            for op in ops {
                match op {
                    Op::Text { x, baseline, size, weight, colour: c, text } => {
                        surface.set_fill(Some(colour(c)));
                        let font = if weight == Weight::Bold { bold.clone() } else { regular.clone() };
                        surface.draw_text(Point::from_xy(x, baseline), font, size, &text, false, TextDirection::Auto);
                    }
                    Op::Rect { x, y, w, h, colour: c } => {
                        let mut builder = PathBuilder::new();
                        rect_path(&mut builder, x, y, w, h);
                        if let Some(path) = builder.finish() {
                            surface.set_fill(Some(colour(c)));
                            surface.draw_path(&path);
                        }
                    }
                    Op::Qr { x, y, module, width, dark } => {
                        let mut builder = PathBuilder::new();
                        for (i, _) in dark.iter().enumerate().filter(|(_, d)| **d) {
                            let (col, row) = ((i % width) as f32, (i / width) as f32);
                            // A hair wider than a module, so neighbours join without seams.
                            rect_path(&mut builder, x + col * module, y + row * module, module + 0.05, module + 0.05);
                        }
                        if let Some(path) = builder.finish() {
                            surface.set_fill(Some(colour((0, 0, 0))));
                            surface.draw_path(&path);
                        }
                    }
                    Op::Link { x, y, w, h, url } => links.push((x, y, w, h, url)),
                }
            }
            surface.finish();
        }
        for (x, y, w, h, url) in links {
            if let Some(rect) = Rect::from_xywh(x, y, w, h) {
                let target = Target::Action(Action::Link(LinkAction::new(url.clone())));
                page.add_annotation(Annotation::new_link(LinkAnnotation::new(rect, target), Some(url)));
            }
        }
        page.finish();
    }
    let id = hex::encode(&hasher.finalize()[..16]);
    let created = PdfDateTime::new(created.year() as u16)
        .month(created.month() as u8)
        .day(created.day() as u8)
        .hour(created.hour() as u8)
        .minute(created.minute() as u8)
        .second(created.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0);
    document.set_metadata(
        Metadata::new()
            .title(title.to_string())
            .description(subject.to_string())
            .authors(vec![author.to_string()])
            .creator("Kurslogg".into())
            .producer("Kurslogg (krilla)".into())
            .language("sv-SE".into())
            .creation_date(created)
            .document_id(id),
    );
    document.finish().map_err(|e| PdfError(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::super::SessionLine;
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an instant")
    }

    fn doc() -> CertificateDoc {
        CertificateDoc {
            number: "LVU-GRUND-HT2027-3F2A9C1B04D2-001".into(),
            organiser: "Fyrbodals kommunalförbund".into(),
            holder: "Åsa Öberg".into(),
            course: "LVU-GRUND".into(),
            title: "LVU grund".into(),
            term: "HT2027".into(),
            description: "Lagen med särskilda bestämmelser om vård av unga. ".repeat(12),
            competence_areas: vec!["juridik".into(), "utredningsmetodik".into()],
            trainer: "Advokatbyrån Väst".into(),
            place: "Kampenhof, Uddevalla".into(),
            sessions: vec![
                SessionLine {
                    starts_at: at("2027-09-01T06:00:00Z"),
                    ends_at: at("2027-09-01T12:00:00Z"),
                    minutes: 360,
                    present: true,
                },
                SessionLine {
                    starts_at: at("2027-09-08T06:00:00Z"),
                    ends_at: at("2027-09-08T12:00:00Z"),
                    minutes: 360,
                    present: false,
                },
            ],
            issued_at: at("2027-09-08T13:00:00Z"),
            check_page: "https://kurslogg.example/kontrollera-intyg".into(),
            check_link: "https://kurslogg.example/kontrollera-intyg?nummer=LVU-GRUND-HT2027-3F2A9C1B04D2-001".into(),
        }
    }

    #[test]
    fn the_same_certificate_is_the_same_file_and_another_is_not() {
        let first = certificate_pdf(&doc()).expect("a PDF");
        assert!(first.starts_with(b"%PDF-"));
        assert_eq!(first, certificate_pdf(&doc()).expect("a PDF"));
        let mut other = doc();
        other.holder = "Erik Berg".into();
        assert_ne!(first, certificate_pdf(&other).expect("a PDF"));
    }

    #[test]
    fn a_line_never_runs_past_the_margin() {
        let measure = Measure::new().expect("fonts");
        let address = "https://kurslogg.fyrbodal.se/kontrollera-intyg?nummer=INTRO-HT2027-EF3F65CB3CEA-001";
        let text = format!("Gå till {address} och skriv intygsnumret. {}", "Åsa Öberg ".repeat(30));
        let lines = measure.wrap(&text, 9.5, Weight::Bold, 200.0);
        assert!(lines.len() > 3, "{lines:?}");
        for line in &lines {
            assert!(measure.width(line, 9.5, Weight::Bold) <= 200.0, "{line:?} is too wide");
        }
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""), "nothing lost");
    }

    #[test]
    fn a_long_record_goes_on_to_more_pages() {
        let courses = (0..30).map(|_| doc()).collect();
        let record = RecordDoc { holder: "Åsa Öberg".into(), courses, check_page: doc().check_page };
        let (layout, ..) = record_layout(&record).expect("laid out");
        assert!(layout.pages.len() >= 3, "{} pages", layout.pages.len());
        let lowest = layout.pages.iter().flatten().filter_map(|op| match op {
            Op::Text { baseline, .. } => Some(*baseline),
            _ => None,
        });
        assert!(lowest.fold(0.0_f32, f32::max) <= BOTTOM, "text below the margin");
        assert!(record_pdf(&record).expect("a PDF").starts_with(b"%PDF-"));
    }
}
