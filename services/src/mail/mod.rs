//! E-mail: what each notice says ([`letters`]), how it reads in Swedish ([`render`]).

pub mod letters;
pub mod render;
pub mod swedish;
