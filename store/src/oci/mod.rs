//! OCI images as build outputs: deterministic layers ([`layer`]) and the
//! image layout of a multi-platform image ([`layout`]), written by the
//! built-in builder `builtin:oci-image-v1`.

pub mod layer;
pub mod layout;

pub use layout::{ImageError, ImageSpec, PlatformSpec, Written};
