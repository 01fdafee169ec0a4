//! How long each call to storage takes, by S3 operation and outcome, for `/metrics`: where a
//! request's time goes is then readable beside `uc_http_request_duration_seconds`.

use std::future::Future;
use std::time::Instant;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use prometheus::HistogramVec;

/// Times storage calls into a histogram, when one is given (tests build `Storage` bare).
#[derive(Clone, Default)]
pub struct CallTimer(Option<HistogramVec>);

impl std::fmt::Debug for CallTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "CallTimer"
        } else {
            "CallTimer(off)"
        })
    }
}

impl CallTimer {
    /// Observes into `histogram`, labelled `operation` and `outcome`: `ok`, `not_found` (a
    /// 404: no such object or multipart upload, which callers often expect) or `error`.
    pub fn into(histogram: HistogramVec) -> Self {
        Self(Some(histogram))
    }

    /// Awaits `call`, recording how long it took as `operation`.
    pub async fn time<T, E>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, SdkError<E, HttpResponse>> {
        let started = Instant::now();
        let result = call.await;
        if let Some(histogram) = &self.0 {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(err)
                    if err
                        .raw_response()
                        .is_some_and(|raw| raw.status().as_u16() == 404) =>
                {
                    "not_found"
                }
                Err(_) => "error",
            };
            histogram
                .with_label_values(&[operation, outcome])
                .observe(started.elapsed().as_secs_f64());
        }
        result
    }
}
