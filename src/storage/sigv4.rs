//! The pieces of AWS Signature Version 4 that both signers made here share: the POST policies
//! (`post_policy`) and the presigned URLs (`query_signer`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub(super) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

pub(super) fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// The key a day's S3 signatures in `region` are made with.
pub(super) fn signing_key(secret_key: &str, date: &str, region: &str) -> Vec<u8> {
    [date, region, "s3", "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret_key}").into_bytes(), |key, part| {
            hmac(&key, part.as_bytes())
        })
}

/// `<access key>/<date>/<region>/s3/aws4_request`.
pub(super) fn credential(access_key: &str, date: &str, region: &str) -> String {
    format!("{access_key}/{date}/{region}/s3/aws4_request")
}

/// SigV4's URI encoding: every byte but the unreserved characters as `%XX` (upper case);
/// `/` kept as is in a path, encoded in a query.
pub(super) fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(DIGITS[usize::from(b >> 4)] as char);
                out.push(DIGITS[usize::from(b & 0x0f)] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_key_follows_sigv4() {
        // The derivation example from the SigV4 documentation (for IAM, not S3).
        let key = ["20150830", "us-east-1", "iam", "aws4_request"]
            .iter()
            .fold(
                b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_vec(),
                |k, part| hmac(&k, part.as_bytes()),
            );
        assert_eq!(
            hex(&key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved_characters() {
        assert_eq!(uri_encode("a b/ü+~*", true), "a%20b/%C3%BC%2B~%2A");
        assert_eq!(uri_encode("a/b=c&d", false), "a%2Fb%3Dc%26d");
    }
}
