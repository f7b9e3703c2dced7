//! Image references: `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`, read as
//! docker and podman read them.
//!
//! The first component names a registry when it holds a `.` or a `:`, or
//! is `localhost`; otherwise the registry is Docker Hub (`docker.io`),
//! whose one-component repositories live under `library/`.

use std::fmt;

use thiserror::Error;

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry's host, with its port when the reference gave one.
    pub registry: String,
    /// The repository within the registry (`library/ubuntu`, `astral/uv`).
    pub repository: String,
    /// The tag, when given.
    pub tag: Option<String>,
    /// The manifest digest (`sha256:…`), when given.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("`{reference}` is not an image reference: {reason}")]
pub struct ReferenceError {
    /// The string as given.
    pub reference: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Reference {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let fail = |reason: &str| ReferenceError {
            reference: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(|reason| fail(&reason))?;
                (rest, Some(digest.to_owned()))
            }
            None => (text, None),
        };
        // A tag follows the last `:` after the last `/` (a `:` before it
        // is the registry's port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                check_tag(tag).map_err(|reason| fail(&reason))?;
                (&rest[..last_slash + i], Some(tag.to_owned()))
            }
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), path.to_owned())
            }
            _ if !name.contains('/') => (DOCKER_HUB.to_owned(), format!("library/{name}")),
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        if registry.is_empty() {
            return Err(fail("the registry's name is empty"));
        }
        check_repository(&repository).map_err(|reason| fail(&reason))?;
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host (and port) that serves the registry's API.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on this machine (`localhost`, 127.0.0.0/8
    /// or `[::1]`), where plain HTTP is the norm.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => &self.registry,
        };
        host == "localhost" || host.starts_with("127.") || host == "[::1]"
    }

    /// The tag or digest that names the manifest: the digest when given,
    /// else the tag, else `latest`.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// A digest as the distribution API names blobs and manifests.
pub fn check_digest(digest: &str) -> Result<(), String> {
    match digest.split_once(':') {
        Some(("sha256", hex))
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "the digest `{digest}` is not `sha256:` and 64 lowercase hex digits"
        )),
    }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the tag `{tag}` is not 1 to 128 letters, digits, `_`, `.` and `-` (not starting with `.` or `-`)"
        ))
    }
}

fn check_repository(repository: &str) -> Result<(), String> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
            && c.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
    };
    if !repository.is_empty() && repository.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(format!(
            "the repository `{repository}` must be `/`-separated components of lowercase letters, digits, `.`, `_` and `-`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    #[test]
    fn registries_ports_tags_and_digests() {
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parse("127.0.0.1:5000/app:1.0"),
            (
                "127.0.0.1:5000".into(),
                "app".into(),
                Some("1.0".into()),
                None
            )
        );
        assert_eq!(
            parse("localhost/team/app"),
            ("localhost".into(), "team/app".into(), None, None)
        );
        assert_eq!(
            parse(&format!("ghcr.io/astral-sh/uv@{digest}")),
            (
                "ghcr.io".into(),
                "astral-sh/uv".into(),
                None,
                Some(digest.clone())
            )
        );
        assert_eq!(
            parse("ubuntu"),
            ("docker.io".into(), "library/ubuntu".into(), None, None)
        );
        assert_eq!(
            parse("astral/uv:0.13.7"),
            (
                "docker.io".into(),
                "astral/uv".into(),
                Some("0.13.7".into()),
                None
            )
        );
        let r = Reference::parse(&format!("127.0.0.1:5000/app:v1@{digest}")).unwrap();
        assert_eq!(r.manifest_reference(), digest);
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/app:v1@{digest}"));
        assert_eq!(
            Reference::parse("ubuntu").unwrap().api_host(),
            "registry-1.docker.io"
        );
    }

    #[test]
    fn loopback_registries() {
        for r in [
            "localhost:5000/a",
            "127.0.0.1:5000/a",
            "[::1]:5000/a",
            "127.1.2.3/a",
        ] {
            assert!(Reference::parse(r).unwrap().is_loopback(), "{r}");
        }
        for r in ["ghcr.io/a", "example.com:5000/a", "a"] {
            assert!(!Reference::parse(r).unwrap().is_loopback(), "{r}");
        }
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        for (text, says) in [
            ("", "empty"),
            ("127.0.0.1:5000/App", "lowercase"),
            ("127.0.0.1:5000/app:", "tag"),
            ("127.0.0.1:5000/app:-x", "tag"),
            ("127.0.0.1:5000/app@sha256:abc", "64"),
            ("127.0.0.1:5000/app@md5:abc", "digest"),
            ("127.0.0.1:5000//app", "repository"),
            ("/app", "repository"),
        ] {
            let err = Reference::parse(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
