//! E-mail: what each notice says ([`letters`]), how it reads in Swedish ([`render`],
//! [`swedish`]), how it travels ([`transport`]), and the dispatcher that sends the
//! outbox's letters ([`dispatch`]).

pub mod dispatch;
pub mod letters;
pub mod render;
pub mod swedish;
pub mod transport;
