//! Insights into the tenant's approvals over a window (`GET /v1/insights`), for its admins.

use reqwest::Method;
use serde_json::Value;

use super::{Client, parse};
use crate::error::Error;

impl Client {
    /// The insights of `[since, until)` (RFC 3339 instants; the server's defaults when absent:
    /// the last 7 days), as the server answers them; `Refused` with `not_admin` for a non-admin.
    pub async fn insights(&self, since: Option<&str>, until: Option<&str>) -> Result<Value, Error> {
        let mut url = self
            .base
            .join("v1/insights")
            .map_err(|e| Error::Usage(e.to_string()))?;
        let pairs = [("since", since), ("until", until)];
        url.query_pairs_mut()
            .extend_pairs(pairs.iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        parse(self.send(Method::GET, url.as_str(), None, None).await?)
    }
}
