//! One request on the wire: credentials applied, the answer's body when 2xx, the server's
//! problem (with its Retry-After) otherwise.

use holdpoint_core::retry::retry_after;
use reqwest::Method;

use super::{Client, describe};
use crate::error::{Error, Problem};

impl Client {
    /// `body` with its content type, and one extra `header` (an idempotency key, If-Match).
    pub(crate) async fn send_as(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
        header: Option<(&str, &str)>,
    ) -> Result<Vec<u8>, Error> {
        let url = self
            .base
            .join(path)
            .map_err(|e| Error::Usage(format!("{path}: {e}")))?;
        let mut builder = self.http.request(method, url);
        if let Some((b, content_type)) = body {
            builder = builder
                .header(http::header::CONTENT_TYPE, content_type)
                .body(b);
        }
        if let Some((name, value)) = header {
            builder = builder.header(name, value);
        }
        let mut request = builder.build().map_err(|e| Error::Usage(e.to_string()))?;
        self.credentials.apply(&mut request).await?;
        let answer = self
            .http
            .execute(request)
            .await
            .map_err(|e| Error::Unreachable(describe(&e)))?;
        let status = answer.status();
        let retry_after = answer
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, chrono::Utc::now()));
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| Error::Unreachable(describe(&e)))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let mut problem = Problem::from_answer(status.as_u16(), &bytes);
        problem.retry_after = retry_after;
        Err(Error::Refused(problem))
    }
}
