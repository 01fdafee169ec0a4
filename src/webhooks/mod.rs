//! Outgoing webhooks, per the Standard Webhooks specification: every status change recorded
//! in `upload_events` is delivered to each configured endpoint, signed, at least once, retried
//! with backoff and parked after its last attempt.

mod delivery;
mod signature;

pub use delivery::WebhookWorker;
pub use signature::SigningKey;

/// `url` as it may be logged: scheme, host, port and path, without credentials or query.
pub fn loggable_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("");
            match parsed.port() {
                Some(port) => format!("{}://{host}:{port}{}", parsed.scheme(), parsed.path()),
                None => format!("{}://{host}{}", parsed.scheme(), parsed.path()),
            }
        }
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_urls_lose_their_credentials_and_query() {
        assert_eq!(
            loggable_url("https://user:pw@hooks.example.com:8443/in?token=abc"),
            "https://hooks.example.com:8443/in"
        );
        assert_eq!(loggable_url("http://127.0.0.1/"), "http://127.0.0.1/");
    }
}
