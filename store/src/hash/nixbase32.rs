//! Nix's base-32 encoding ("nixbase32").
//!
//! It is not RFC 4648 base32: the alphabet omits `e o u t` (to avoid
//! accidental words), there is no padding, and the bytes are consumed from
//! the *end*: the first character of the text encodes the highest bits of the
//! last byte. This is how Nix prints store path hash parts and
//! `--base32` hashes.

use thiserror::Error;

/// The 32 characters of the alphabet, in digit order.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// A nixbase32 text that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// A character outside the alphabet.
    #[error("character `{character}` at position {position} is not valid nixbase32")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its position (in characters) in the text.
        position: usize,
    },
    /// The text has bits set beyond the decoded length.
    #[error("nixbase32 text `{text}` does not fit in {bytes} bytes")]
    Overflow {
        /// The text.
        text: String,
        /// The number of bytes it was decoded into.
        bytes: usize,
    },
}

/// Returns the length of the nixbase32 encoding of `bytes` bytes.
pub const fn encoded_len(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        (bytes * 8 - 1) / 5 + 1
    }
}

/// Returns the number of bytes a nixbase32 text of `chars` characters holds
/// (the inverse of [`encoded_len`] for lengths it produces).
pub const fn decoded_len(chars: usize) -> usize {
    chars * 5 / 8
}

/// Encodes bytes as nixbase32.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(input.len()));
    encode_into(input, &mut out);
    out
}

/// Appends the nixbase32 text of `input` to `out`.
pub fn encode_into(input: &[u8], out: &mut String) {
    let len = encoded_len(input.len());
    out.reserve(len);
    for n in (0..len).rev() {
        let bit = n * 5;
        let i = bit / 8;
        let j = bit % 8;
        let low = input.get(i).map_or(0, |b| u16::from(*b) >> j);
        let high = input.get(i + 1).map_or(0, |b| u16::from(*b) << (8 - j));
        out.push(char::from(ALPHABET[usize::from((low | high) & 0x1f)]));
    }
}

/// Decodes a nixbase32 text into exactly `decoded_len(text.len())` bytes.
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let size = decoded_len(text.len());
    let mut out = vec![0u8; size];
    for (position, character) in text.chars().enumerate() {
        let digit = digit_of(character).ok_or(DecodeError::InvalidCharacter {
            character,
            position,
        })?;
        // The last character holds the lowest bits.
        let n = text.len() - 1 - position;
        let bit = n * 5;
        let i = bit / 8;
        let j = bit % 8;
        let value = u16::from(digit) << j;
        let overflow = || DecodeError::Overflow {
            text: text.to_owned(),
            bytes: size,
        };
        match out.get_mut(i) {
            Some(byte) => *byte |= (value & 0xff) as u8,
            None if value != 0 => return Err(overflow()),
            None => {}
        }
        let carry = (value >> 8) as u8;
        match out.get_mut(i + 1) {
            Some(byte) => *byte |= carry,
            None if carry != 0 => return Err(overflow()),
            None => {}
        }
    }
    Ok(out)
}

/// Each byte's digit value, or `NOT_A_DIGIT` (store paths are validated
/// by the thousand: a table, not a search of the alphabet).
const DIGITS: [u8; 256] = {
    let mut table = [NOT_A_DIGIT; 256];
    let mut digit = 0;
    while digit < ALPHABET.len() {
        table[ALPHABET[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};
const NOT_A_DIGIT: u8 = 0xff;

/// Returns the digit value of a nixbase32 character.
pub fn digit_of(character: char) -> Option<u8> {
    let byte = u8::try_from(character).ok()?;
    Some(DIGITS[usize::from(byte)]).filter(|d| *d != NOT_A_DIGIT)
}

/// Whether every character of `text` is in the nixbase32 alphabet.
pub fn is_valid(text: &str) -> bool {
    text.bytes().all(|b| DIGITS[usize::from(b)] != NOT_A_DIGIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0x1f]), "0z");
        // sha256("") as Nix prints it with --base32.
        let empty = hex::decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            .unwrap();
        assert_eq!(
            encode(&empty),
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
        assert_eq!(
            decode("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73").unwrap(),
            empty
        );
    }

    #[test]
    fn the_digit_table_is_the_alphabet() {
        for byte in 0..=u8::MAX {
            let position = ALPHABET.iter().position(|c| *c == byte);
            let digit = digit_of(char::from(byte)).map(usize::from);
            assert_eq!(digit, position, "byte {byte}");
            let text = char::from(byte).to_string();
            assert_eq!(
                is_valid(&text),
                byte.is_ascii() && position.is_some(),
                "byte {byte}"
            );
        }
        assert_eq!(digit_of('é'), None);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            decode("0e"),
            Err(DecodeError::InvalidCharacter {
                character: 'e',
                position: 1
            })
        ));
        // Two characters hold 10 bits but decode into one byte: the top bits must be zero.
        assert!(matches!(decode("z0"), Err(DecodeError::Overflow { .. })));
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let text = encode(&bytes);
            prop_assert_eq!(text.len(), encoded_len(bytes.len()));
            prop_assert_eq!(decode(&text).unwrap(), bytes);
        }
    }
}
