//! Bytes to and from storage: PUTs through presigned URLs, and what storage holds.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use super::app::TestApp;

impl TestApp {
    /// PUTs `bytes` to a presigned part (`{url, headers}`); returns storage's response.
    pub async fn put_part(&self, part: &Value, bytes: Vec<u8>) -> Response {
        let mut request = self.http.put(part["url"].as_str().unwrap()).body(bytes);
        if let Some(headers) = part["headers"].as_object() {
            for (name, value) in headers {
                request = request.header(name, value.as_str().unwrap());
            }
        }
        request.send().await.unwrap()
    }

    /// PUTs every part of `data` through `parts` concurrently; returns `(number, etag)` pairs.
    pub async fn put_parts(
        &self,
        parts: &[Value],
        data: &[u8],
        part_size: usize,
    ) -> Vec<(u64, String)> {
        let puts = parts.iter().map(|part| {
            let number = part["part_number"].as_u64().unwrap();
            let start = (number as usize - 1) * part_size;
            let end = (start + part_size).min(data.len());
            let bytes = data[start..end].to_vec();
            async move {
                let response = self.put_part(part, bytes).await;
                assert_eq!(response.status(), StatusCode::OK, "PUT of part {number}");
                let etag = response.headers()["etag"].to_str().unwrap().to_owned();
                (number, etag)
            }
        });
        futures_util::future::join_all(puts).await
    }

    /// The bytes storage holds under `key`.
    pub async fn stored_bytes(&self, key: &str) -> Vec<u8> {
        let object = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("the object exists");
        object.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// Whether storage still has the multipart upload behind upload `id`.
    pub async fn multipart_upload_exists(&self, id: &str, key: &str) -> bool {
        let storage_upload_id: String = self
            .db
            .query_one(
                "SELECT storage_upload_id FROM uploads WHERE id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        self.s3
            .list_parts()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(storage_upload_id)
            .send()
            .await
            .is_ok()
    }

    /// Writes `bytes` under `key` with storage's own credentials, bypassing the coordinator.
    pub async fn put_object_directly(&self, key: &str, bytes: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("video/mp4")
            .body(bytes.into())
            .send()
            .await
            .expect("storage accepts its own credentials");
    }

    pub async fn object_exists(&self, key: &str) -> bool {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }
}
