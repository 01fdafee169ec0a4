//! Which bearer tokens are accepted.

use clap::Args;

use super::Secret;

#[derive(Args, Clone, Debug)]
pub struct AuthSettings {
    /// Signature algorithm of accepted tokens: HS256, RS256 or ES256.
    #[arg(
        id = "jwt-algorithm",
        long = "jwt-algorithm",
        env = "UC_JWT_ALGORITHM",
        default_value = "HS256"
    )]
    pub algorithm: JwtAlgorithm,

    /// Shared secret for HS256 tokens (the platform's auth service signs with it); at least
    /// 32 bytes. Required with HS256 unless UC_DEV_MODE is on.
    #[arg(
        id = "jwt-secret",
        long = "jwt-secret",
        env = "UC_JWT_SECRET",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub secret: Secret,

    /// PEM public key for RS256/ES256 tokens (the key itself).
    #[arg(
        id = "jwt-public-key",
        long = "jwt-public-key",
        env = "UC_JWT_PUBLIC_KEY",
        hide_env_values = true
    )]
    pub public_key: Option<String>,

    /// File holding the PEM public key for RS256/ES256 tokens.
    #[arg(
        id = "jwt-public-key-file",
        long = "jwt-public-key-file",
        env = "UC_JWT_PUBLIC_KEY_FILE"
    )]
    pub public_key_file: Option<std::path::PathBuf>,

    /// Required `iss` claim, if set.
    #[arg(id = "jwt-issuer", long = "jwt-issuer", env = "UC_JWT_ISSUER")]
    pub issuer: Option<String>,

    /// Required `aud` claim, if set.
    #[arg(id = "jwt-audience", long = "jwt-audience", env = "UC_JWT_AUDIENCE")]
    pub audience: Option<String>,

    /// Require `token_type: "access"` (the platform's access tokens carry it; refresh tokens
    /// say `refresh`). Defaults to on with HS256 and off with RS256/ES256. A token_type other
    /// than `access` is refused either way.
    #[arg(
        id = "jwt-require-access-type",
        long = "jwt-require-access-type",
        env = "UC_JWT_REQUIRE_ACCESS_TYPE",
        action = clap::ArgAction::Set
    )]
    pub require_access_type: Option<bool>,

    /// Claim naming the owner of an upload.
    #[arg(
        id = "jwt-owner-claim",
        long = "jwt-owner-claim",
        env = "UC_JWT_OWNER_CLAIM",
        default_value = "sub"
    )]
    pub owner_claim: String,
}

impl AuthSettings {
    /// HS256 with `secret` and nothing else set, for unit tests.
    #[cfg(test)]
    pub fn hs256_for_tests(secret: &str) -> Self {
        Self {
            algorithm: JwtAlgorithm::Hs256,
            secret: Secret::new(secret),
            public_key: None,
            public_key_file: None,
            issuer: None,
            audience: None,
            require_access_type: None,
            owner_claim: "sub".into(),
        }
    }

    /// Whether tokens must say `token_type: "access"`.
    pub fn requires_access_type(&self) -> bool {
        self.require_access_type
            .unwrap_or(self.algorithm == JwtAlgorithm::Hs256)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    Es256,
}
