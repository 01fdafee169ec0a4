//! Form-URL decoding of object keys as MinIO, RustFS and AWS write them in events
//! (`application/x-www-form-urlencoded`: `+` is a space, `%XX` is one byte, the bytes are UTF-8).

/// Why an encoded key could not be decoded. A key that does not decode cleanly is refused
/// rather than guessed at: a wrong guess would name another object.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("invalid percent escape at byte {0}")]
    BadEscape(usize),
    #[error("decoded key is not UTF-8")]
    NotUtf8,
}

/// Decodes a form-URL-encoded key: `my+clip%2Bfinal.mp4` becomes `my clip+final.mp4`.
pub(crate) fn form_decode(encoded: &str) -> Result<String, KeyError> {
    let input = encoded.as_bytes();
    let mut bytes = Vec::with_capacity(input.len());
    let mut at = 0;
    while at < input.len() {
        match input[at] {
            b'+' => {
                bytes.push(b' ');
                at += 1;
            }
            b'%' => {
                let high = input.get(at + 1).copied().and_then(hex_value);
                let low = input.get(at + 2).copied().and_then(hex_value);
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(KeyError::BadEscape(at));
                };
                bytes.push(high << 4 | low);
                at += 3;
            }
            byte => {
                bytes.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(bytes).map_err(|_| KeyError::NotUtf8)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_decodes_to_a_space_and_an_escaped_plus_stays_a_plus() {
        assert_eq!(
            form_decode("my+clip%2Bfinal.mp4").unwrap(),
            "my clip+final.mp4"
        );
    }

    #[test]
    fn an_escaped_slash_decodes_to_a_slash() {
        assert_eq!(form_decode("a%2Fb").unwrap(), "a/b");
    }

    #[test]
    fn a_plain_key_with_slashes_is_unchanged() {
        assert_eq!(
            form_decode("uploads/u1/clip-01.mp4").unwrap(),
            "uploads/u1/clip-01.mp4"
        );
    }

    #[test]
    fn escaped_multibyte_utf8_decodes_to_its_characters() {
        assert_eq!(
            form_decode("jugada+de+%C3%B1o%C3%B1o+%F0%9F%8F%80.mp4").unwrap(),
            "jugada de ñoño 🏀.mp4"
        );
    }

    #[test]
    fn lowercase_and_uppercase_hex_digits_both_decode() {
        assert_eq!(form_decode("%c3%A9").unwrap(), "é");
    }

    #[test]
    fn raw_multibyte_characters_pass_through() {
        assert_eq!(form_decode("año.mp4").unwrap(), "año.mp4");
    }

    #[test]
    fn an_escape_with_non_hex_digits_is_an_error() {
        assert_eq!(form_decode("clip%zz.mp4"), Err(KeyError::BadEscape(4)));
    }

    #[test]
    fn a_truncated_escape_at_the_end_is_an_error() {
        assert_eq!(form_decode("clip%2"), Err(KeyError::BadEscape(4)));
        assert_eq!(form_decode("clip%"), Err(KeyError::BadEscape(4)));
    }

    #[test]
    fn escapes_that_decode_to_invalid_utf8_are_an_error() {
        assert_eq!(form_decode("bad%C3.mp4"), Err(KeyError::NotUtf8));
    }
}
