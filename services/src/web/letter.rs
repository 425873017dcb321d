//! A letter as part of a page: the HTML Kurslogg sent, from its article (without the
//! mail's frame), its inline styles left out (the page's own style sheet styles the same
//! headings, paragraphs and tables, and the pages allow no inline styles), and its
//! headings one level down, under the page's own heading.
//!
//! The letters are our own templates' output, with every value escaped when they were
//! written, so what is cut out here is safe to place in a page as it is.

/// The article of `html` (a letter from `crate::mail::render`), ready to place in a page.
pub fn as_page_part(html: &str) -> String {
    let start = html.find("<div role=\"article\"").and_then(|at| html[at..].find('>').map(|end| at + end + 1));
    let end = html.rfind("</div>");
    let article = match (start, end) {
        (Some(start), Some(end)) if start <= end => &html[start..end],
        _ => html,
    };
    let unstyled = without_style_attributes(article);
    demoted(&unstyled)
}

/// `html` without its ` style="…"` attributes.
fn without_style_attributes(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(" style=\"") {
        out.push_str(&rest[..at]);
        let after = &rest[at + " style=\"".len()..];
        match after.find('"') {
            Some(close) => rest = &after[close + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Headings one level down: `h1` becomes `h2`, `h2` becomes `h3`, and so on.
fn demoted(html: &str) -> String {
    let mut out = html.to_string();
    for level in (1..=5).rev() {
        for (from, to) in
            [(format!("<h{level}"), format!("<h{}", level + 1)), (format!("</h{level}>"), format!("</h{}>", level + 1))]
        {
            out = out.replace(&from, &to);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_comes_without_its_frame_styles_and_one_heading_level_down() {
        let letter = "<!DOCTYPE html><html><body style=\"margin:0\"><div role=\"article\" aria-label=\"x\" style=\"a:b\">\
                      <h1 style=\"font-size:22px\">Sammanfattning</h1><h2 style=\"c:d\">Kursen</h2><p>Hej &amp; välkommen</p>\
                      </div></body></html>";
        assert_eq!(as_page_part(letter), "<h2>Sammanfattning</h2><h3>Kursen</h3><p>Hej &amp; välkommen</p>");
    }
}
