use super::*;

const SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----\n\
Hash: SHA256\n\
\n\
Origin: Debian\n\
Suite: unstable\n\
Codename: sid\n\
Date: Fri, 30 Oct 2026 08:08:01 UTC\n\
Valid-Until: Fri, 06 Nov 2026 08:08:01 UTC\n\
Architectures: all amd64 arm64\n\
Components: main contrib\n\
Description: x\n\
- -Dashed: an escaped line\n\
SHA256:\n \
db5df6f8c6ff9c8e2e90907c9c7bd55512715433e978d3b94600842e74c3d31b 64988655 main/binary-amd64/Packages\n \
28476C952CD0732E0BA28E3C14FBB9A8BEB412EB2B3CB96BF9D067D54CAACF1B    10824484 main/binary-amd64/Packages.xz\n\
-----BEGIN PGP SIGNATURE-----\n\
\n\
iQIzBAEBCAAdFiEE\n\
=22hu\n\
-----END PGP SIGNATURE-----\n";

#[test]
fn parses_a_clearsigned_release() {
    let release = Release::parse(SIGNED).unwrap();
    assert!(release.signed);
    assert_eq!(release.codename.as_deref(), Some("sid"));
    assert_eq!(release.suite.as_deref(), Some("unstable"));
    assert_eq!(release.snapshot, "20261030T080801Z");
    assert_eq!(release.architectures, ["all", "amd64", "arm64"]);
    assert_eq!(release.components, ["main", "contrib"]);
    let xz = release.file("main/binary-amd64/Packages.xz").unwrap();
    assert_eq!(xz.size, 10_824_484);
    assert_eq!(
        xz.sha256,
        "28476c952cd0732e0ba28e3c14fbb9a8beb412eb2b3cb96bf9d067d54caacf1b"
    );
    assert!(release.file("main/binary-i386/Packages").is_none());
}

#[test]
fn dash_escapes_and_final_line_end() {
    let body = strip_clearsign(SIGNED).unwrap().unwrap();
    assert!(body.starts_with("Origin: Debian\n"));
    assert!(body.contains("\n-Dashed: an escaped line\n"));
    assert!(
        body.ends_with("Packages.xz"),
        "the last line end belongs to the armor"
    );
    let crlf = SIGNED.replace('\n', "\r\n");
    assert_eq!(strip_clearsign(&crlf).unwrap().unwrap(), body);
}

#[test]
fn plain_release_is_unsigned() {
    let body = strip_clearsign(SIGNED).unwrap().unwrap();
    let release = Release::parse(&body).unwrap();
    assert!(!release.signed);
    assert_eq!(release.files.len(), 2);
}

#[test]
fn broken_files() {
    let no_signature = SIGNED.split(BEGIN_SIGNATURE).next().unwrap();
    assert_eq!(
        strip_clearsign(no_signature),
        Err(ReleaseError::NoSignature)
    );
    assert_eq!(
        strip_clearsign("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n"),
        Err(ReleaseError::NoBody)
    );
    let bad_date = SIGNED.replace("08:08:01 UTC\nValid", "08:08:01 CET\nValid");
    assert!(matches!(
        Release::parse(&bad_date),
        Err(ReleaseError::BadDate { .. })
    ));
    let bad_line = SIGNED.replace(" 64988655 ", " many ");
    assert!(matches!(
        Release::parse(&bad_line),
        Err(ReleaseError::BadHashLine { .. })
    ));
    let no_date = SIGNED.replace("Date: Fri", "Datum: Fri");
    assert_eq!(
        Release::parse(&no_date),
        Err(ReleaseError::Missing { field: "Date" })
    );
}

#[test]
fn timestamps() {
    assert_eq!(
        snapshot_timestamp("Sat, 1 Feb 2025 00:00:09 +0000").unwrap(),
        "20250201T000009Z"
    );
    assert!(snapshot_timestamp("Sat, 1 Foo 2025 00:00:09 UTC").is_err());
    assert!(snapshot_timestamp("Sat, 1 Feb 2025 00:00 UTC").is_err());
}
