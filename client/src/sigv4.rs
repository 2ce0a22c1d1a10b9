//! An AWS SigV4 signature over each request, for the IAM-authorised API on AWS (feature `aws`):
//! made by the SDK's own signer, with credentials from the SDK's credentials chain.

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;

use crate::error::Error;

/// The service name API Gateway's IAM authorizer expects in a SigV4 signature.
const SERVICE: &str = "execute-api";

/// The AWS SDK's default credentials chain and region (environment, profile, SSO, web identity,
/// container and instance roles).
pub(crate) async fn from_environment() -> Result<(SharedCredentialsProvider, String), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let provider = config.credentials_provider().ok_or_else(|| {
        Error::Credentials("the AWS credentials chain found no credentials".into())
    })?;
    let region = config
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| Error::Credentials("no AWS region is configured".into()))?;
    Ok((provider, region))
}

/// Signs `request` in place with credentials from `provider`, for `region`.
pub(crate) async fn sign_request(
    request: &mut reqwest::Request,
    provider: &SharedCredentialsProvider,
    region: &str,
) -> Result<(), Error> {
    let creds = provider
        .provide_credentials()
        .await
        .map_err(|e| Error::Credentials(format!("AWS credentials: {e}")))?;
    let body = request
        .body()
        .and_then(|b| b.as_bytes())
        .unwrap_or_default()
        .to_vec();
    let host = request.url().host_str().unwrap_or_default().to_owned();
    let host = match request.url().port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    let mut headers: Vec<(String, String)> = vec![("host".into(), host)];
    for (name, value) in request.headers() {
        if let Ok(v) = value.to_str() {
            headers.push((name.as_str().to_owned(), v.to_owned()));
        }
    }
    let scope = Scope {
        region,
        service: SERVICE,
        time: SystemTime::now(),
    };
    let signed = sigv4_headers(
        request.method().as_str(),
        request.url().as_str(),
        &headers,
        &body,
        &creds,
        &scope,
    )?;
    for (name, value) in signed {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::Credentials(e.to_string()))?;
        let value =
            http::HeaderValue::from_str(&value).map_err(|e| Error::Credentials(e.to_string()))?;
        request.headers_mut().insert(name, value);
    }
    Ok(())
}

/// Where and when a signature is valid.
struct Scope<'a> {
    region: &'a str,
    service: &'a str,
    time: SystemTime,
}

/// The headers a SigV4 signature adds (`authorization`, `x-amz-date`, `x-amz-content-sha256`,
/// and `x-amz-security-token` for temporary credentials), by `aws-sigv4`.
fn sigv4_headers(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    creds: &aws_credential_types::Credentials,
    scope: &Scope<'_>,
) -> Result<Vec<(String, String)>, Error> {
    let failed = |e: &dyn fmt::Display| Error::Credentials(format!("SigV4 signing: {e}"));
    let identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(scope.time)
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| failed(&e))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `post-x-www-form-urlencoded` of the AWS SigV4 test suite (shipped with `aws-sigv4`), with
    /// its service name: the signature must be AWS's own, character for character.
    #[test]
    fn signs_the_aws_test_suite_request() {
        let creds = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("host", "example.amazonaws.com"),
            ("content-length", "13"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let scope = Scope {
            region: "us-east-1",
            service: "service",
            time,
        };
        let signed = sigv4_headers(
            "POST",
            "https://example.amazonaws.com/",
            &headers,
            b"Param1=value1",
            &creds,
            &scope,
        )
        .unwrap();
        let auth = signed
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str())
            .unwrap();
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, \
             Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"
        );
        assert!(
            signed
                .iter()
                .any(|(k, v)| k == "x-amz-date" && v == "20150830T123600Z")
        );
    }
}
