//! Typed requests to the app's API, as a client sends them.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::app::TestApp;

impl TestApp {
    /// Posts a storage event body to the webhook with the right token.
    pub async fn post_event(&self, body: &Value) -> Response {
        self.http
            .post(self.url("/api/storage-events"))
            .bearer_auth(&self.webhook_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn create_upload_as(&self, token: &str, body: &Value) -> Response {
        self.http
            .post(self.url("/api/uploads"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Starts an Uppy upload session (`body`: its origin, cap), asked from the page at
    /// `origin_header` if given, and returns it.
    pub async fn start_session(&self, body: &Value, origin_header: Option<&str>) -> Value {
        let mut request = self
            .http
            .post(self.url("/api/uppy-sessions"))
            .bearer_auth(&self.token)
            .json(body);
        if let Some(origin) = origin_header {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    pub async fn create_upload(&self, body: &Value) -> Response {
        self.create_upload_as(&self.token, body).await
    }

    /// Declares a video of `size` bytes and returns the created upload.
    pub async fn declare(&self, size: usize) -> Value {
        let response = self
            .create_upload(&json!({
                "filename": "jugada final.mp4",
                "size": size,
                "content_type": "video/mp4",
                "title": "Final play",
                "metadata": {"team": "ANB"},
            }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    pub async fn get_upload(&self, id: &str) -> Response {
        self.http
            .get(self.url(&format!("/api/uploads/{id}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_parts(&self, id: &str, numbers: &[u32]) -> Response {
        self.http
            .post(self.url(&format!("/api/uploads/{id}/parts")))
            .bearer_auth(&self.token)
            .json(&json!({ "part_numbers": numbers }))
            .send()
            .await
            .unwrap()
    }

    pub async fn list_parts(&self, id: &str) -> Response {
        self.http
            .get(self.url(&format!("/api/uploads/{id}/parts")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn complete(&self, id: &str, body: Option<&Value>) -> Response {
        let request = self
            .http
            .post(self.url(&format!("/api/uploads/{id}/complete")))
            .bearer_auth(&self.token);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        request.send().await.unwrap()
    }

    pub async fn abort(&self, id: &str) -> Response {
        self.http
            .delete(self.url(&format!("/api/uploads/{id}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    /// GET `url` with the caller's token and read the JSON answer.
    pub async fn get_json(&self, url: &str) -> Value {
        self.http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The caller's uploads, newest first.
    pub async fn list_uploads(&self) -> Vec<Value> {
        let page = self.get_json(&self.url("/api/uploads")).await;
        page["items"].as_array().unwrap().clone()
    }

    /// A digest of every upload row: equal before and after means nothing changed.
    pub async fn fingerprint(&self) -> String {
        self.db
            .query_one(
                "SELECT count(*)::text || ':' || coalesce(md5(string_agg(u::text, ',' ORDER BY id)), '') \
                 FROM uploads u",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }
}
