//! Checksums a client declares for its parts, so storage refuses other bytes of the right
//! length: the algorithm, and each part's digest in base64 as S3 headers carry it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::InvalidInput;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Sha256,
    Crc32,
    Crc32c,
    /// `Content-MD5`, for storages without the `x-amz-checksum-*` family.
    Md5,
}

impl ChecksumAlgorithm {
    pub const ALL: [Self; 4] = [Self::Sha256, Self::Crc32, Self::Crc32c, Self::Md5];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Crc32 => "crc32",
            Self::Crc32c => "crc32c",
            Self::Md5 => "md5",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Digest length in bytes.
    fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Crc32 | Self::Crc32c => 4,
            Self::Md5 => 16,
        }
    }

    /// The request header a client sends the checksum in (lowercase, as signed).
    pub fn header(self) -> &'static str {
        match self {
            Self::Sha256 => "x-amz-checksum-sha256",
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Md5 => "content-md5",
        }
    }

    /// A base64 digest of this algorithm's length, as given.
    pub fn parse_digest(self, value: &str) -> Result<String, InvalidInput> {
        let decoded = STANDARD.decode(value).map_err(|_| InvalidInput::Checksum {
            reason: format!("{value:?} is not base64"),
        })?;
        if decoded.len() != self.digest_len() {
            return Err(InvalidInput::Checksum {
                reason: format!(
                    "a {} checksum is {} bytes, {value:?} decodes to {}",
                    self.as_str(),
                    self.digest_len(),
                    decoded.len()
                ),
            });
        }
        Ok(value.to_owned())
    }
}

impl std::fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an upload declares: the algorithm, the parts' digests by part number (index 0 is part
/// 1; `None` until the client gives it), and optionally the whole file's SHA-256.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checksums {
    pub algorithm: Option<ChecksumAlgorithm>,
    pub parts: Vec<Option<String>>,
    pub sha256: Option<String>,
}

impl Checksums {
    /// The digest part `number` must have, if one is declared.
    pub fn of_part(&self, number: u32) -> Option<&str> {
        self.parts.get(number.checked_sub(1)? as usize)?.as_deref()
    }

    /// Whether a part's URL can be signed: always without an algorithm, else once its
    /// checksum is known.
    pub fn can_sign(&self, number: u32) -> bool {
        self.algorithm.is_none() || self.of_part(number).is_some()
    }
}

impl ChecksumAlgorithm {
    /// The digests [`Self::parse_digest`] accepts, as an ECMA-262 pattern: canonical padded
    /// base64 of the digest's length (the last character carries no stray bits).
    pub fn digest_pattern(self) -> String {
        let len = self.digest_len();
        let any = "[A-Za-z0-9+/]";
        let tail = match len % 3 {
            1 => format!("{any}[AQgw]=="),
            2 => format!("{any}{{2}}[AEIMQUYcgkosw048]="),
            _ => String::new(),
        };
        format!("^{any}{{{}}}{tail}$", len / 3 * 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_pattern_describes_the_parser() {
        for algorithm in ChecksumAlgorithm::ALL {
            let pattern = regex_lite::Regex::new(&algorithm.digest_pattern()).unwrap();
            let good = STANDARD.encode(vec![0xA5u8; algorithm.digest_len()]);
            let mut stray_bits = good.clone().into_bytes();
            let last = stray_bits.iter().rposition(|b| *b != b'=').unwrap();
            stray_bits[last] = b'B';
            let stray_bits = String::from_utf8(stray_bits).unwrap();
            for sample in [
                good.clone(),
                stray_bits,
                format!(" {good}"),
                good.trim_end_matches('=').to_owned(),
                STANDARD.encode([1u8; 20]),
            ] {
                assert_eq!(
                    pattern.is_match(&sample),
                    algorithm.parse_digest(&sample).is_ok(),
                    "{algorithm} {sample:?}"
                );
            }
        }
    }

    #[test]
    fn digests_are_base64_of_the_algorithms_length() {
        let sha = STANDARD.encode([7u8; 32]);
        assert_eq!(ChecksumAlgorithm::Sha256.parse_digest(&sha).unwrap(), sha);
        assert!(ChecksumAlgorithm::Crc32.parse_digest(&sha).is_err());
        assert!(ChecksumAlgorithm::Crc32.parse_digest("AAAAAA==").is_ok());
        assert!(ChecksumAlgorithm::Md5.parse_digest("not base64!").is_err());
        assert_eq!(
            ChecksumAlgorithm::parse("crc32c"),
            Some(ChecksumAlgorithm::Crc32c)
        );
        assert_eq!(ChecksumAlgorithm::parse("sha1"), None);
    }

    #[test]
    fn a_part_is_signed_once_its_checksum_is_known() {
        let checksums = Checksums {
            algorithm: Some(ChecksumAlgorithm::Crc32),
            parts: vec![Some("AAAAAA==".into()), None],
            sha256: None,
        };
        assert!(checksums.can_sign(1));
        assert!(!checksums.can_sign(2));
        assert!(!checksums.can_sign(3));
        assert!(Checksums::default().can_sign(3));
    }
}
