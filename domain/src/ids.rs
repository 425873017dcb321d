//! Identifiers. People are referred to by id everywhere outside their own stream, so
//! erasing a person's data never means rewriting another aggregate's events.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Uuid::nil())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A staff member (and so a participant, supervisor or coordinator).
    StaffId
);
uuid_id!(
    /// One run of a course within a course package.
    OfferingId
);
uuid_id!(
    /// A term's course package.
    PackageId
);

/// Why a textual identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidId(pub String);

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $upper:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and normalises the identifier.
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                let s = raw.trim();
                let ok = !s.is_empty()
                    && s.len() <= 64
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !ok {
                    return Err(InvalidId(format!(
                        "{} must be 1-64 characters of A-Z, 0-9, '-' or '_', got {:?}",
                        $what, raw
                    )));
                }
                Ok(Self(if $upper { s.to_ascii_uppercase() } else { s.to_ascii_lowercase() }))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_id!(
    /// A municipality, as a lower-case slug (`uddevalla`, `dals-ed`).
    MunicipalityId,
    "a municipality id",
    false
);
slug_id!(
    /// A course in the catalogue, as a stable upper-case code (`LVU-GRUND`).
    CourseCode,
    "a course code",
    true
);
slug_id!(
    /// A regional federation of municipalities, as a lower-case slug of the name its
    /// municipalities give (`Fyrbodal` → `fyrbodal`): see [`FederationId::of_name`].
    FederationId,
    "a federation id",
    false
);

impl FederationId {
    /// The federation a municipality names (its `federation` text), as a slug, so that
    /// `Fyrbodal` and `fyrbodal` are the same federation.
    pub fn of_name(name: &str) -> Result<Self, InvalidId> {
        Self::parse(&slugify(name))
    }
}

/// Makes a slug from a display name: `Dals-Ed` → `dals-ed`, `Åmål` → `amal`.
pub fn slugify(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c.to_lowercase().next().unwrap_or(c) {
            'å' | 'ä' | 'à' | 'á' => Some('a'),
            'ö' | 'ø' | 'ó' => Some('o'),
            'é' | 'è' => Some('e'),
            ' ' => Some('-'),
            c if c.is_ascii_alphanumeric() || c == '-' => Some(c),
            _ => None,
        })
        .collect()
}
