//! The pages' static files (style sheet, scripts), compiled into the binary and served
//! under a name that carries a hash of their content: a browser may keep each for a year,
//! and a new release changes the name, so nobody runs yesterday's script. No CDN: the
//! pages work inside a municipality's network that reaches only this service.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One static file: the name templates ask for, its bytes and its media type.
struct Asset {
    name: &'static str,
    bytes: &'static [u8],
    content_type: &'static str,
}

const FILES: &[Asset] = &[
    Asset {
        name: "kurslogg.css",
        bytes: include_bytes!("../../static/kurslogg.css"),
        content_type: "text/css; charset=utf-8",
    },
    Asset {
        name: "kurslogg.js",
        bytes: include_bytes!("../../static/kurslogg.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    // htmx 2.0.11 (BSD Zero Clause; static/vendor/htmx-LICENSE.txt), unchanged from npm.
    Asset {
        name: "htmx.js",
        bytes: include_bytes!("../../static/vendor/htmx-2.0.11.min.js"),
        content_type: "text/javascript; charset=utf-8",
    },
];

/// Each file with the name it is served under: `kurslogg.3f2a9c1b.css`.
static HASHED: LazyLock<Vec<(String, &'static Asset)>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|asset| {
            let digest = hex::encode(Sha256::digest(asset.bytes));
            let (stem, extension) = asset.name.rsplit_once('.').unwrap_or((asset.name, ""));
            (format!("{stem}.{}.{extension}", &digest[..12]), asset)
        })
        .collect()
});

/// The URL of the static file `name` (as listed in [`FILES`]), for the templates.
pub fn url(name: &str) -> Option<String> {
    HASHED.iter().find(|(_, asset)| asset.name == name).map(|(hashed, _)| format!("/static/{hashed}"))
}

/// `GET /static/{file}`: a file by its hashed name, kept by browsers for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    match HASHED.iter().find(|(hashed, _)| *hashed == file) {
        Some((_, asset)) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Filen finns inte.")
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_url_that_names_its_content() {
        for asset in FILES {
            let url = url(asset.name).expect("listed");
            let digest = hex::encode(Sha256::digest(asset.bytes));
            assert!(url.contains(&digest[..12]), "{url} carries the hash of {}", asset.name);
        }
        assert_eq!(url("missing.css"), None);
    }
}
