//! Images leaving kiln's store: OCI image layouts read with every blob
//! checked ([`layout`]), pushed to and read from registries with the OCI
//! distribution API ([`registry`], [`push`], [`pull`]), compared
//! ([`compare`]), and exported as docker
//! archives ([`docker_archive`]).

pub mod auth;
pub mod compare;
pub mod docker_archive;
pub mod layout;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;

pub use reference::Reference;
