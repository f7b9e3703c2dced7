//! OCI images as build outputs: deterministic layers (`layer`) and the
//! image layout of a multi-platform image (`layout`), written by the
//! built-in builder `builtin:oci-image-v1` (both with the `unpack`
//! feature), and the media types of OCI and docker images ([`media`]).

#[cfg(feature = "unpack")]
pub mod layer;
#[cfg(feature = "unpack")]
pub mod layout;
pub mod media;

#[cfg(feature = "unpack")]
pub use layout::{ImageError, ImageSpec, PlatformSpec, Written};
