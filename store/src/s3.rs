//! A store in an S3 bucket under a key prefix, through aws-sdk-s3.

use crate::{Error, Result, Store, check_key};
use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

/// How to reach S3. Everything defaults to the standard AWS configuration chain
/// (environment, profile, instance role; `AWS_ENDPOINT_URL` is honoured by it too).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint of a local S3 server, e.g. `http://127.0.0.1:9000`; implies path-style URLs.
    pub endpoint_url: Option<String>,
    /// Region when neither the environment nor the profile names one (default `us-east-1`).
    pub region: Option<String>,
    /// Static access key id and secret (for local servers); otherwise the default chain.
    pub static_credentials: Option<(String, String)>,
    /// Path-style URLs (`endpoint/bucket/key`) even without a custom endpoint.
    pub force_path_style: bool,
}

impl S3Options {
    /// Options for a local S3 server at `endpoint` with static test credentials.
    pub fn local(endpoint: impl Into<String>) -> Self {
        S3Options {
            endpoint_url: Some(endpoint.into()),
            region: Some("us-east-1".into()),
            static_credentials: Some(("testing".into(), "testing".into())),
            force_path_style: true,
        }
    }

    /// The default AWS configuration, at `endpoint_url` (path-style) when one is given:
    /// what the command line's `--endpoint-url` options mean.
    pub fn endpoint(endpoint_url: Option<String>) -> Self {
        S3Options { force_path_style: endpoint_url.is_some(), endpoint_url, ..S3Options::default() }
    }

    /// The shared SDK configuration these options describe (also used for other AWS clients).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let fallback = self.region.clone().unwrap_or_else(|| "us-east-1".to_string());
        let region = match &self.region {
            Some(r) => RegionProviderChain::first_try(Region::new(r.clone())),
            None => RegionProviderChain::default_provider().or_else(Region::new(fallback)),
        };
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some((id, secret)) = &self.static_credentials {
            loader = loader.credentials_provider(Credentials::new(id, secret, None, None, "pathgrid-static"));
        }
        loader.load().await
    }
}

/// An S3 client for `options`; path-style addressing whenever an endpoint is set.
pub async fn client_from_env(options: &S3Options) -> Client {
    let conf = options.sdk_config().await;
    let path_style = options.force_path_style || conf.endpoint_url().is_some();
    Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(path_style).build())
}

/// Objects of one bucket under a prefix (`""` or ending in `/`).
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
}

fn s3_error<E: std::error::Error + Send + Sync + 'static>(op: &'static str, key: &str, e: E) -> Error {
    Error::S3 { op, key: key.to_string(), message: DisplayErrorContext(e).to_string() }
}

impl S3Store {
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        S3Store { client, bucket: bucket.into(), prefix }
    }

    /// Connects with [`S3Options`].
    pub async fn connect(bucket: impl Into<String>, prefix: impl Into<String>, options: &S3Options) -> Self {
        S3Store::new(client_from_env(options).await, bucket, prefix)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn full_key(&self, key: &str) -> Result<String> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

impl Store for S3Store {
    async fn get(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let full = self.full_key(key)?;
        let out = match self.client.get_object().bucket(&self.bucket).key(&full).send().await {
            Ok(out) => out,
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                if missing {
                    return Err(Error::NotFound { key: key.to_string() });
                }
                return Err(s3_error("GetObject", key, e));
            }
        };
        let declared = out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        if declared > max_bytes {
            return Err(Error::TooLarge { key: key.to_string(), size: declared, limit: max_bytes });
        }
        let mut body = out.body;
        let mut data = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(chunk) = body.try_next().await.map_err(|e| s3_error("GetObject body", key, e))? {
            data.extend_from_slice(&chunk);
            if data.len() as u64 > max_bytes {
                return Err(Error::TooLarge { key: key.to_string(), size: data.len() as u64, limit: max_bytes });
            }
        }
        Ok(data)
    }

    async fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        let full = self.full_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", key, e))?;
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, data: Vec<u8>) -> Result<bool> {
        let full = self.full_key(key)?;
        let sent = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .if_none_match("*")
            .body(ByteStream::from(data))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            // 412 Precondition Failed: the object exists. 409: a concurrent conditional write
            // to the same key is in flight; one of them wins, so this one did not write.
            Err(e) if e.raw_response().is_some_and(|r| matches!(r.status().as_u16(), 412 | 409)) => Ok(false),
            Err(e) => Err(s3_error("PutObject If-None-Match", key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let full_prefix = format!("{}{prefix}", self.prefix);
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&full_prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3_error("ListObjectsV2", prefix, e))?;
            for object in out.contents() {
                if let Some(k) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    keys.push(k.to_string());
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated().unwrap_or(false) => token = Some(t.to_string()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let full = self.full_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| s3_error("DeleteObject", key, e))?;
        Ok(())
    }
}
