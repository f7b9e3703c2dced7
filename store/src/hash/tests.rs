use super::*;
use proptest::prelude::*;

#[test]
fn digests_of_empty_input() {
    let cases = [
        (HashAlgo::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
        (HashAlgo::Sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (
            HashAlgo::Sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ];
    for (algo, hex) in cases {
        assert_eq!(Hash::digest(algo, b"").encode(Encoding::Base16), hex);
    }
}

#[test]
fn encodings() {
    let h = Hash::sha256(b"");
    assert_eq!(
        h.encode(Encoding::Nixbase32),
        "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
    );
    assert_eq!(
        h.encode(Encoding::Base64),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    assert_eq!(
        h.to_sri(),
        "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    assert_eq!(
        h.encode_with_algo(Encoding::Base16),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn parses_every_form() {
    let h = Hash::sha256(b"kiln");
    for encoding in [Encoding::Base16, Encoding::Nixbase32, Encoding::Base64] {
        assert_eq!(
            Hash::parse(&h.encode(encoding), Some(HashAlgo::Sha256)).unwrap(),
            h
        );
        assert_eq!(Hash::parse(&h.encode_with_algo(encoding), None).unwrap(), h);
    }
    assert_eq!(Hash::parse(&h.to_sri(), None).unwrap(), h);
    assert_eq!(Hash::parse(&h.to_sri(), Some(HashAlgo::Sha256)).unwrap(), h);
}

#[test]
fn parse_errors_name_the_problem() {
    let h = Hash::sha256(b"kiln");
    let err = Hash::parse(&h.to_sri(), Some(HashAlgo::Sha1)).unwrap_err();
    assert!(matches!(err, ParseError::AlgoMismatch { .. }), "{err}");
    let err = Hash::parse("abc", Some(HashAlgo::Sha256)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "hash `abc` has the wrong length for sha256: expected 64 (base16), 52 (nixbase32) or 44 (base64) characters, got 3"
    );
    assert!(matches!(
        Hash::parse("abc", None),
        Err(ParseError::MissingAlgo(_))
    ));
    assert!(matches!(
        Hash::parse("blake9:abc", None),
        Err(ParseError::UnknownAlgo(_))
    ));
    let bad_hex = "z".repeat(64);
    assert!(matches!(
        Hash::parse(&bad_hex, Some(HashAlgo::Sha256)),
        Err(ParseError::BadDigest { .. })
    ));
    assert!(Hash::parse("sha256-AAAA", None).is_err());
}

#[test]
fn compress_folds_by_xor() {
    let h = Hash::from_bytes(HashAlgo::Sha256, &[1u8; 32]).unwrap();
    let folded = h.compress::<20>();
    assert_eq!(&folded[..12], &[0u8; 12]);
    assert_eq!(&folded[12..], &[1u8; 8]);
}

fn any_algo() -> impl Strategy<Value = HashAlgo> {
    prop_oneof![
        Just(HashAlgo::Md5),
        Just(HashAlgo::Sha1),
        Just(HashAlgo::Sha256),
        Just(HashAlgo::Sha512)
    ]
}

proptest! {
    #[test]
    fn every_encoding_round_trips(algo in any_algo(), data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let h = Hash::digest(algo, &data);
        for encoding in [Encoding::Base16, Encoding::Nixbase32, Encoding::Base64, Encoding::Sri] {
            prop_assert_eq!(Hash::parse(&h.encode_with_algo(encoding), None).unwrap(), h);
            prop_assert_eq!(Hash::parse(&h.encode(encoding), Some(algo)).unwrap(), h);
        }
    }
}
