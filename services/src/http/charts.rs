//! The federation's four charts of seed 000 ("Diagram 1-4") as SVG bar charts, built
//! from the statistics view and drawn with `plotters`' SVG backend only: it writes text
//! as SVG `<text>` (escaped), so no font is read on the server and the viewer's
//! sans-serif draws the Swedish letters. Text widths are estimated, so the layout
//! (label column, canvas height) is sized here from the labels.

use std::collections::BTreeMap;

use kurslogg_projections::views::statistics::{Dimension, Statistics, StatisticsFilter, StatisticsRow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One of the charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Diagram 1. Deltagarantal per år.
    ParticipantsPerYear,
    /// Diagram 2. Respektive kommuns deltagande.
    ParticipantsPerMunicipality,
    /// Diagram 3. Deltagare/kommun och år.
    ParticipantsPerMunicipalityAndYear,
    /// Diagram 4. Antal deltagare/utbildning.
    ParticipantsPerCourse,
}

impl Chart {
    /// Every chart.
    pub const ALL: [Chart; 4] = [
        Chart::ParticipantsPerYear,
        Chart::ParticipantsPerMunicipality,
        Chart::ParticipantsPerMunicipalityAndYear,
        Chart::ParticipantsPerCourse,
    ];

    /// Its name in the URL (without `.svg`).
    pub fn name(self) -> &'static str {
        match self {
            Chart::ParticipantsPerYear => "participants-per-year",
            Chart::ParticipantsPerMunicipality => "participants-per-municipality",
            Chart::ParticipantsPerMunicipalityAndYear => "participants-per-municipality-and-year",
            Chart::ParticipantsPerCourse => "participants-per-course",
        }
    }

    /// The chart a file name such as `participants-per-year.svg` names.
    pub fn from_file_name(file: &str) -> Option<Chart> {
        let name = file.strip_suffix(".svg")?;
        Chart::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The statistics it is drawn from.
    pub fn group_by(self) -> &'static [Dimension] {
        match self {
            Chart::ParticipantsPerYear => &[Dimension::Year],
            Chart::ParticipantsPerMunicipality => &[Dimension::Municipality],
            Chart::ParticipantsPerMunicipalityAndYear => &[Dimension::Municipality, Dimension::Year],
            Chart::ParticipantsPerCourse => &[Dimension::Course, Dimension::Year],
        }
    }

    /// Its Swedish title.
    pub fn title(self) -> &'static str {
        match self {
            Chart::ParticipantsPerYear => "Deltagarantal per år",
            Chart::ParticipantsPerMunicipality => "Respektive kommuns deltagande",
            Chart::ParticipantsPerMunicipalityAndYear => "Deltagare/kommun och år",
            Chart::ParticipantsPerCourse => "Antal deltagare/utbildning",
        }
    }

    /// What the chart shows: years in order, municipalities and courses in the Swedish
    /// alphabetical order of the names it shows (not of their ids or codes).
    fn bars(self, statistics: &Statistics) -> Bars {
        match self {
            Chart::ParticipantsPerYear => Bars::single(statistics, |r| r.year.map(|y| y.to_string())),
            Chart::ParticipantsPerMunicipality => {
                Bars::single(statistics, |r| r.municipality_name.clone().or_else(|| r.municipality.clone()))
                    .in_alphabetical_order()
            }
            Chart::ParticipantsPerMunicipalityAndYear => {
                Bars::by_year(statistics, |r| r.municipality_name.clone().or_else(|| r.municipality.clone()))
            }
            Chart::ParticipantsPerCourse => {
                Bars::by_year(statistics, |r| r.course_title.clone().or_else(|| r.course.clone()))
            }
        }
    }

    /// The chart as an SVG document.
    pub fn render(self, statistics: &Statistics) -> Result<String, String> {
        let bars = self.bars(statistics);
        let mut svg = String::new();
        let drawn = match self {
            Chart::ParticipantsPerYear => columns(&mut svg, self.title(), statistics, &bars),
            _ => horizontal(&mut svg, self.title(), statistics, &bars),
        };
        drawn.map_err(|e| format!("drawing {}: {e}", self.name()))?;
        Ok(svg)
    }
}

/// What a chart shows: one bar per label, each split into series (years) or not.
struct Bars {
    /// Bar labels, in the statistics' order.
    labels: Vec<String>,
    /// Series names (years); one unnamed series for a simple chart.
    series: Vec<String>,
    /// Participations per bar, per series.
    values: Vec<Vec<u32>>,
}

impl Bars {
    /// One bar per row.
    fn single(statistics: &Statistics, label: impl Fn(&StatisticsRow) -> Option<String>) -> Bars {
        Bars {
            labels: statistics.rows.iter().map(|r| label(r).unwrap_or_default()).collect(),
            series: vec![String::new()],
            values: statistics.rows.iter().map(|r| vec![count(r.participations)]).collect(),
        }
    }

    /// One bar per label, split by year, in the Swedish alphabetical order of the labels
    /// (the rows come sorted by id or code, which the chart does not show).
    fn by_year(statistics: &Statistics, label: impl Fn(&StatisticsRow) -> Option<String>) -> Bars {
        let years: Vec<i64> = statistics
            .rows
            .iter()
            .filter_map(|r| r.year)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut cells: BTreeMap<(Vec<u32>, String), BTreeMap<i64, u32>> = BTreeMap::new();
        for row in &statistics.rows {
            let name = label(row).unwrap_or_default();
            let cell = cells.entry((swedish_order(&name), name)).or_default();
            if let Some(year) = row.year {
                *cell.entry(year).or_default() += count(row.participations);
            }
        }
        Bars {
            labels: cells.keys().map(|(_, name)| name.clone()).collect(),
            series: years.iter().map(ToString::to_string).collect(),
            values: cells.values().map(|c| years.iter().map(|y| c.get(y).copied().unwrap_or(0)).collect()).collect(),
        }
    }

    /// The same bars in the Swedish alphabetical order of their labels.
    fn in_alphabetical_order(self) -> Bars {
        let mut bars: Vec<(String, Vec<u32>)> = self.labels.into_iter().zip(self.values).collect();
        bars.sort_by_cached_key(|(label, _)| (swedish_order(label), label.clone()));
        let (labels, values) = bars.into_iter().unzip();
        Bars { labels, series: self.series, values }
    }

    fn total(&self, bar: usize) -> u32 {
        self.values[bar].iter().sum()
    }

    fn max(&self) -> u32 {
        (0..self.labels.len()).map(|b| self.total(b)).max().unwrap_or(0)
    }
}

/// A sort key for Swedish alphabetical order: case ignored, and å, ä, ö after z in that
/// order (Unicode puts ä before å).
fn swedish_order(text: &str) -> Vec<u32> {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'å' => u32::from('z') + 1,
            'ä' | 'æ' => u32::from('z') + 2,
            'ö' | 'ø' => u32::from('z') + 3,
            'é' | 'è' => u32::from('e'),
            'ü' => u32::from('y'),
            other => u32::from(other),
        })
        .collect()
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// Text fit for a label: no control characters, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    if text.chars().count() <= max {
        text
    } else {
        text.chars().take(max - 1).chain(['…']).collect()
    }
}

/// The chart's footnote: the totals and what was selected.
fn footnote(statistics: &Statistics) -> String {
    let total = statistics.total;
    let mut note = format!(
        "Totalt {} deltagare, {} personer (samma person kan ha deltagit i flera utbildningar).",
        total.participations, total.persons
    );
    let StatisticsFilter { year, term, municipality, course } = &statistics.filter;
    let selection: Vec<String> = [
        year.map(|y| format!("år {y}")),
        term.as_ref().map(|t| format!("termin {t}")),
        municipality.as_ref().map(|m| format!("kommun {m}")),
        course.as_ref().map(|c| format!("utbildning {c}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !selection.is_empty() {
        note.push_str(&format!(" Urval: {}.", selection.join(", ")));
    }
    note
}

const WIDTH: u32 = 960;
const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Where bar `b` of `n` ends: where the next begins, and the last at the axis' end. The
/// axis spans `0..=n - 1`, so "where bar `n` begins" lies outside it, and with a single
/// bar the axis has no length at all: the bar would be drawn with no width.
fn segment_end(b: u32, n: u32) -> SegmentValue<u32> {
    if b + 1 < n {
        SegmentValue::Exact(b + 1)
    } else {
        SegmentValue::Last
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Title at the top, footnote at the bottom; "no participants" when there is nothing.
fn frame(root: &Area, title: &str, statistics: &Statistics, empty: bool) -> Drawn {
    let (width, height) = root.dim_in_pixel();
    root.fill(&WHITE)?;
    let centred = |size: u32| TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw_text(title, &centred(22).color(&BLACK), (width as i32 / 2, 12))?;
    let grey = RGBColor(70, 70, 70);
    let note = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom)).color(&grey);
    root.draw_text(&clean(&footnote(statistics), 160), &note, (16, height as i32 - 10))?;
    if empty {
        root.draw_text("Inga deltagare att visa.", &centred(16).color(&BLACK), (width as i32 / 2, 80))?;
    }
    Ok(())
}

/// A legend row under the title, when there is more than one series.
fn legend(root: &Area, series: &[String], left: i32) -> Drawn {
    if series.len() < 2 {
        return Ok(());
    }
    let style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center)).color(&BLACK);
    for (i, name) in series.iter().enumerate() {
        let x = left + i as i32 * 90;
        root.draw(&Rectangle::new([(x, 48), (x + 12, 60)], PALETTE[i % PALETTE.len()].filled()))?;
        root.draw_text(&clean(name, 10), &style, (x + 18, 54))?;
    }
    Ok(())
}

/// Horizontal bars, one row per label (stacked by series), the total at each bar's end.
fn horizontal(svg: &mut String, title: &str, statistics: &Statistics, bars: &Bars) -> Drawn {
    let n = bars.labels.len() as u32;
    // Rows on the axis: at least two, since an axis of one row has no height to draw in
    // (a single bar then takes the top row).
    let rows = n.max(2);
    let height = 130 + 30 * rows;
    let labels: Vec<String> =
        (0..bars.labels.len()).map(|b| clean(&format!("{} ({})", bars.labels[b], bars.total(b)), 48)).collect();
    let label_width = labels.iter().map(|l| l.chars().count() as u32).max().unwrap_or(0) * 7 + 16;
    let root = SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area();
    frame(&root, title, statistics, n == 0)?;
    if n == 0 {
        root.present()?;
        return Ok(());
    }
    legend(&root, &bars.series, label_width as i32 + 20)?;
    let max = bars.max().max(1);
    let area = root.margin(70, 30, 10, 30);
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(36)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0u32..max + max / 8 + 1, (0u32..rows - 1).into_segmented())?;
    // The first label at the top.
    let row = |b: usize| rows - 1 - b as u32;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc("Antal deltagare")
        .x_label_formatter(&|v| v.to_string())
        .y_labels(rows as usize)
        .y_label_style((FONT, 13))
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => {
                rows.checked_sub(1 + i).and_then(|b| labels.get(b as usize)).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .draw()?;
    for (s, _) in bars.series.iter().enumerate() {
        let colour = PALETTE[s % PALETTE.len()];
        chart.draw_series((0..bars.labels.len()).filter(|b| bars.values[*b][s] > 0).map(|b| {
            let start: u32 = bars.values[b][..s].iter().sum();
            let end = start + bars.values[b][s];
            let mut bar = Rectangle::new(
                [(start, SegmentValue::Exact(row(b))), (end, segment_end(row(b), rows))],
                colour.filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            bar
        }))?;
    }
    let value = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center)).color(&BLACK);
    chart.draw_series((0..bars.labels.len()).map(|b| {
        EmptyElement::at((bars.total(b), SegmentValue::CenterOf(row(b))))
            + Text::new(bars.total(b).to_string(), (5, 0), value.clone())
    }))?;
    root.present()?;
    Ok(())
}

/// Vertical columns, one per label, the number on top of each.
fn columns(svg: &mut String, title: &str, statistics: &Statistics, bars: &Bars) -> Drawn {
    let n = bars.labels.len() as u32;
    let width = WIDTH.min(200 + 110 * n.max(1)).max(480);
    let root = SVGBackend::with_string(svg, (width, 460)).into_drawing_area();
    frame(&root, title, statistics, n == 0)?;
    if n == 0 {
        root.present()?;
        return Ok(());
    }
    let max = bars.max().max(1);
    let labels: Vec<String> = bars.labels.iter().map(|l| clean(l, 14)).collect();
    let area = root.margin(55, 30, 10, 20);
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d((0u32..n - 1).into_segmented(), 0u32..max + max / 8 + 1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .y_desc("Antal deltagare")
        .y_label_formatter(&|v| v.to_string())
        .x_labels(n as usize)
        .x_label_style((FONT, 13))
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    chart.draw_series((0..n).map(|b| {
        let mut bar = Rectangle::new(
            [(SegmentValue::Exact(b), 0), (segment_end(b, n), bars.total(b as usize))],
            PALETTE[0].filled(),
        );
        bar.set_margin(0, 0, 12, 12);
        bar
    }))?;
    let value = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom)).color(&BLACK);
    chart.draw_series((0..n).map(|b| {
        let total = bars.total(b as usize);
        EmptyElement::at((SegmentValue::CenterOf(b), total)) + Text::new(total.to_string(), (0, -4), value.clone())
    }))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use kurslogg_projections::views::statistics::StatisticsTotal;

    use super::*;

    fn statistics(group_by: &[&str], rows: Vec<StatisticsRow>) -> Statistics {
        let participations = rows.iter().map(|r| r.participations).sum();
        Statistics {
            group_by: group_by.iter().map(ToString::to_string).collect(),
            filter: StatisticsFilter { year: Some(2027), ..StatisticsFilter::default() },
            rows,
            total: StatisticsTotal { participations, persons: participations - 1 },
            position: 7,
        }
    }

    fn municipality(id: &str, name: &str, year: Option<i64>, participations: i64) -> StatisticsRow {
        StatisticsRow {
            municipality: Some(id.into()),
            municipality_name: Some(name.into()),
            year,
            participations,
            persons: participations,
            ..StatisticsRow::default()
        }
    }

    #[test]
    fn file_names_name_the_four_charts() {
        for chart in Chart::ALL {
            assert_eq!(Chart::from_file_name(&format!("{}.svg", chart.name())), Some(chart));
        }
        assert_eq!(Chart::from_file_name("participants-per-year"), None);
        assert_eq!(Chart::from_file_name("participants-per-year.png"), None);
        assert_eq!(Chart::from_file_name("pie.svg"), None);
    }

    #[test]
    fn labels_are_escaped_and_swedish_text_kept() {
        let stats = statistics(
            &["municipality"],
            vec![municipality("a", "Åmål <b>&", None, 3), municipality("v", "Vänersborg\u{7}", None, 12)],
        );
        let svg = Chart::ParticipantsPerMunicipality.render(&stats).expect("drawn");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Respektive kommuns deltagande"));
        assert!(svg.contains("Åmål &lt;b&gt;&amp; (3)"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains("Vänersborg (12)"), "control characters dropped: {svg}");
        assert!(svg.contains("Totalt 15 deltagare, 14 personer"), "{svg}");
        assert!(svg.contains("Urval: år 2027."), "{svg}");
    }

    #[test]
    fn years_split_each_bar_and_get_a_legend() {
        let stats = statistics(
            &["municipality", "year"],
            vec![
                municipality("tanum", "Tanum", Some(2027), 2),
                municipality("tanum", "Tanum", Some(2028), 5),
                municipality("orust", "Orust", Some(2028), 1),
            ],
        );
        let svg = Chart::ParticipantsPerMunicipalityAndYear.render(&stats).expect("drawn");
        assert!(svg.contains("Tanum (7)") && svg.contains("Orust (1)"), "{svg}");
        assert!(svg.contains("2027") && svg.contains("2028"), "a legend of years: {svg}");
    }

    #[test]
    fn nothing_to_show_is_said_not_drawn() {
        for chart in Chart::ALL {
            let svg = chart.render(&statistics(&[], vec![])).expect("drawn");
            assert!(svg.contains("Inga deltagare att visa."), "{svg}");
            assert!(svg.contains(chart.title()));
        }
    }

    /// The bars drawn in the palette's first colour: (x, y, width, height) of each.
    fn bars(svg: &str) -> Vec<(f64, f64, f64, f64)> {
        let attribute = |element: &str, name: &str| -> f64 {
            let start = element.find(&format!(" {name}=\"")).map(|i| i + name.len() + 3).expect("attribute");
            element[start..].split('"').next().and_then(|v| v.parse().ok()).expect("a number")
        };
        svg.split("<rect")
            .skip(1)
            .map(|rest| rest.split("/>").next().unwrap_or_default())
            .filter(|element| element.contains("#1F77B4"))
            .map(|e| (attribute(e, "x"), attribute(e, "y"), attribute(e, "width"), attribute(e, "height")))
            .collect()
    }

    #[test]
    fn a_single_year_is_a_visible_column() {
        let one = StatisticsRow { year: Some(2027), participations: 4, persons: 3, ..StatisticsRow::default() };
        let svg = Chart::ParticipantsPerYear.render(&statistics(&["year"], vec![one])).expect("drawn");
        let drawn = bars(&svg);
        assert_eq!(drawn.len(), 1, "{svg}");
        let (_, _, width, height) = drawn[0];
        assert!(width >= 20.0 && height >= 20.0, "a column one can see: {drawn:?}\n{svg}");
        let years = (2025..=2027)
            .map(|year| StatisticsRow { year: Some(year), participations: 4, persons: 3, ..StatisticsRow::default() })
            .collect();
        let drawn = bars(&Chart::ParticipantsPerYear.render(&statistics(&["year"], years)).expect("drawn"));
        assert!(
            drawn.iter().all(|bar| (bar.2 - drawn[0].2).abs() <= 1.0 && bar.2 >= 20.0),
            "as wide as each other: {drawn:?}"
        );
        let one = vec![municipality("orust", "Orust", None, 3)];
        let drawn =
            bars(&Chart::ParticipantsPerMunicipality.render(&statistics(&["municipality"], one)).expect("drawn"));
        assert!(drawn.len() == 1 && drawn[0].2 >= 20.0 && drawn[0].3 >= 10.0, "a bar one can see: {drawn:?}");
    }

    #[test]
    fn courses_and_municipalities_are_in_the_order_of_the_names_shown() {
        let course = |code: &str, title: &str, year, participations| StatisticsRow {
            course: Some(code.into()),
            course_title: Some(title.into()),
            year: Some(year),
            participations,
            persons: participations,
            ..StatisticsRow::default()
        };
        // As the statistics come: by code, then year.
        let rows = vec![
            course("A-INTRO", "Introduktionskurs", 2027, 3),
            course("B-ANKN", "Anknytning och omsorgssvikt", 2026, 2),
            course("B-ANKN", "Anknytning och omsorgssvikt", 2027, 1),
            course("C-OVR", "Övergrepp mot barn", 2027, 4),
            course("D-AT", "Återfall och risk", 2027, 5),
        ];
        let bars = Chart::ParticipantsPerCourse.bars(&statistics(&["course", "year"], rows));
        assert_eq!(
            bars.labels,
            ["Anknytning och omsorgssvikt", "Introduktionskurs", "Återfall och risk", "Övergrepp mot barn"]
        );
        assert_eq!(bars.values[0], [2, 1], "a course's years stay together");
        let rows = vec![
            municipality("amal", "Åmål", None, 1),
            municipality("dals-ed", "Dals-Ed", None, 2),
            municipality("orust", "Orust", None, 3),
        ];
        let bars = Chart::ParticipantsPerMunicipality.bars(&statistics(&["municipality"], rows));
        assert_eq!(bars.labels, ["Dals-Ed", "Orust", "Åmål"]);
        assert_eq!(bars.values, [[2], [3], [1]]);
    }

    #[test]
    fn one_bar_is_drawn_too() {
        let one = StatisticsRow { year: Some(2027), participations: 4, persons: 3, ..StatisticsRow::default() };
        let svg = Chart::ParticipantsPerYear.render(&statistics(&["year"], vec![one])).expect("drawn");
        assert!(svg.contains("Deltagarantal per år") && svg.contains("2027"), "{svg}");
        assert!(svg.contains(">\n4\n<"), "the count on the column: {svg}");
    }
}
