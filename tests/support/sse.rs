//! A Server-Sent Events client for the tests: reads `id:`, `data:` and comment lines off a
//! streaming response, as a browser's EventSource would.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;

/// What one blank-line-terminated block of the stream held.
#[derive(Debug, Default, Clone)]
pub struct Block {
    pub id: Option<String>,
    pub data: Option<Value>,
    pub comments: Vec<String>,
}

pub struct SseReader {
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next block, or `None` when the stream ends; panics after `within`.
    pub async fn next_block(&mut self, within: Duration) -> Option<Block> {
        tokio::time::timeout(within, self.read_block())
            .await
            .unwrap_or_else(|_| panic!("no event within {within:?}"))
    }

    async fn read_block(&mut self) -> Option<Block> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&raw));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
                Some(Err(err)) => panic!("the stream failed: {err}"),
                None => return None,
            }
        }
    }

    /// The next block carrying data (an event), skipping comments and id-only blocks.
    pub async fn next_event(&mut self, within: Duration) -> Block {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let block = self.next_block(left).await.expect("the stream ended");
            if block.data.is_some() {
                return block;
            }
        }
    }

    /// Events until one for `upload_id` with `event_type` arrives; returns every event seen.
    pub async fn events_until(&mut self, upload_id: &str, event_type: &str) -> Vec<Block> {
        let mut seen = Vec::new();
        loop {
            let block = self.next_event(Duration::from_secs(20)).await;
            let data = block.data.clone().unwrap();
            seen.push(block);
            if data["data"]["id"] == upload_id && data["type"] == event_type {
                return seen;
            }
        }
    }
}

fn parse(raw: &str) -> Block {
    let mut block = Block::default();
    for line in raw.lines() {
        if let Some(comment) = line.strip_prefix(':') {
            block.comments.push(comment.trim().to_owned());
        } else if let Some(id) = line.strip_prefix("id: ") {
            block.id = Some(id.to_owned());
        } else if let Some(data) = line.strip_prefix("data: ") {
            assert!(block.data.is_none(), "one data line per event: {raw:?}");
            block.data = Some(serde_json::from_str(data).expect("data is JSON"));
        } else if !line.is_empty() && !line.starts_with("retry: ") {
            panic!("unexpected line {line:?} in {raw:?}");
        }
    }
    block
}
