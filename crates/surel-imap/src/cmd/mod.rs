//! One module per command group; each handler opens with its RFC section.

mod any;
mod append;
mod auth;
mod fetch;
mod idle;
mod mailbox;
mod quota;
mod search;
mod select;
mod store;
