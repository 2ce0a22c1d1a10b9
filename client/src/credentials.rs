//! How the client proves who it is: a bearer API key (the local server), or, with the cargo
//! feature `aws`, an AWS SigV4 signature for the IAM-authorised API on AWS (`sigv4`).

use std::fmt;

#[cfg(feature = "aws")]
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::error::Error;
#[cfg(feature = "aws")]
use crate::sigv4;

#[derive(Clone)]
pub enum Credentials {
    /// `Authorization: Bearer <key>`.
    ApiKey(String),
    /// SigV4 over every request, with credentials from `provider` (refreshed as it sees fit).
    #[cfg(feature = "aws")]
    Aws {
        provider: SharedCredentialsProvider,
        region: String,
    },
}

impl fmt::Debug for Credentials {
    /// Never shows the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::ApiKey(_) => f.write_str("ApiKey(…)"),
            #[cfg(feature = "aws")]
            Credentials::Aws { region, .. } => write!(f, "Aws {{ region: {region:?} }}"),
        }
    }
}

impl Credentials {
    pub fn api_key(key: impl Into<String>) -> Credentials {
        Credentials::ApiKey(key.into())
    }

    /// The AWS SDK's default credentials chain and region (environment, profile, SSO, web
    /// identity, container and instance roles). Feature `aws`.
    #[cfg(feature = "aws")]
    pub async fn aws() -> Result<Credentials, Error> {
        let (provider, region) = sigv4::from_environment().await?;
        Ok(Credentials::Aws { provider, region })
    }

    /// Adds what proves the caller to `request`.
    pub(crate) async fn apply(&self, request: &mut reqwest::Request) -> Result<(), Error> {
        match self {
            Credentials::ApiKey(key) => {
                let value = http::HeaderValue::from_str(&format!("Bearer {key}"))
                    .map_err(|_| Error::Credentials("the API key is not a header value".into()))?;
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, value);
                Ok(())
            }
            #[cfg(feature = "aws")]
            Credentials::Aws { provider, region } => {
                sigv4::sign_request(request, provider, region).await
            }
        }
    }
}
