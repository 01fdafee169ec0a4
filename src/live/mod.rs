//! Live status changes for clients: a hub per replica fed by PostgreSQL LISTEN/NOTIFY, and
//! each client's Server-Sent Events stream.

mod hub;
mod stream;

pub use hub::{StatusHub, TooManyStreams};
pub use stream::{OpenError, StreamLimits, open};
