//! Checking a form's fields: each refusal is kept with its field, so the page can list
//! them in the error summary at the top (linked to the fields) and beside each field, as
//! the GOV.UK Design System does. The values come back into the form as typed.

use std::collections::BTreeMap;

use kurslogg_domain::InvalidValue;
use minijinja::{context, Value};

/// The refusals of one form, by field, in the order the form shows its fields.
#[derive(Debug, Default)]
pub struct Checked {
    errors: Vec<(&'static str, String)>,
}

impl Checked {
    /// `result`'s value; or its refusal kept for `field`, described with `label`.
    pub fn take<T>(&mut self, field: &'static str, label: &str, result: Result<T, InvalidValue>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(InvalidValue(reason)) => {
                self.refuse(field, format!("{label}: {reason}"));
                None
            }
        }
    }

    /// `raw` trimmed, or a refusal with `message` when nothing was typed.
    pub fn required<'a>(&mut self, field: &'static str, raw: &'a str, message: &str) -> Option<&'a str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            self.refuse(field, message.to_string());
            None
        } else {
            Some(trimmed)
        }
    }

    /// Keeps `message` for `field` (the first refusal of a field wins).
    pub fn refuse(&mut self, field: &'static str, message: String) {
        if !self.errors.iter().any(|(f, _)| *f == field) {
            self.errors.push((field, message));
        }
    }

    /// Whether nothing was refused.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// For the error summary: each refusal with the field it links to.
    pub fn summary(&self) -> Vec<Value> {
        self.errors.iter().map(|(field, message)| context! { field => *field, message => message.clone() }).collect()
    }

    /// For the fields: each field's refusal by its name.
    pub fn by_field(&self) -> BTreeMap<&'static str, String> {
        self.errors.iter().map(|(field, message)| (*field, message.clone())).collect()
    }
}
