//! Renders letters from the Swedish templates (being written).

use super::letters::{Letter, Rendered};

/// A template that failed to render.
#[derive(Debug, thiserror::Error)]
#[error("template: {0}")]
pub struct RenderError(pub String);

/// Renders `letter` into its subject, HTML body and plain-text alternative.
pub fn render(_letter: &Letter) -> Result<Rendered, RenderError> {
    Err(RenderError("templates are not written yet".into()))
}
