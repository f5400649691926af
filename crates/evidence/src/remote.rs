//! Evidence blobs in S3-compatible object storage, shared by every replica.
//!
//! The local [`crate::BlobStore`] stays each replica's working copy; the remote is the
//! copy they share, so output captured on one replica can be shown, paged and exported
//! by any other. Objects are named like local blobs, `<prefix>/sha256/<hex>`, and hold
//! the gzip of the bytes. A download is never trusted: it is decompressed with a size
//! cap and must hash to its name, so a swapped or damaged object is refused, not used.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt as _, PutPayload, RetryConfig};
use sha2::{Digest as _, Sha256};
use sitrep_ledger::Hash;

use crate::blob::BlobError;

/// Largest blob a download may decompress to; captured output is capped far below it.
pub const MAX_BLOB_BYTES: u64 = 256 << 20;

/// Where the shared blobs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// An S3-compatible endpoint (MinIO, Ceph, R2, ...); AWS when absent.
    pub endpoint: Option<String>,
    /// The region; `AWS_REGION` or `us-east-1` when absent.
    pub region: Option<String>,
    /// Allow a plain-HTTP endpoint (a local test server); off by default.
    pub allow_http: bool,
    /// Access key id and secret; `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` when
    /// absent. One of the two is required: sitrep never probes a cloud metadata service.
    pub credentials: Option<(String, String)>,
}

/// The shared blob store. Credentials are never shown.
#[derive(Clone)]
pub struct RemoteBlobs {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// The URL without credentials, for messages.
    shown: String,
}

impl std::fmt::Debug for RemoteBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteBlobs")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

fn remote_err(op: &'static str, shown: &str, e: impl std::fmt::Display) -> BlobError {
    BlobError::Remote {
        op,
        message: format!("{shown}: {e}"),
    }
}

impl RemoteBlobs {
    /// Connects (lazily: nothing is sent until the first request) to an S3 bucket.
    pub fn s3(cfg: &RemoteConfig) -> Result<RemoteBlobs, BlobError> {
        let shown = cfg.url.clone();
        let rest = cfg
            .url
            .strip_prefix("s3://")
            .ok_or_else(|| BlobError::Remote {
                op: "configure",
                message: format!(
                    "{shown}: the remote blob store must be an s3://bucket[/prefix] URL"
                ),
            })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BlobError::Remote {
                op: "configure",
                message: format!("{shown}: no bucket named"),
            });
        }
        // The TLS provider: ring, as everywhere in sitrep (a no-op if one is installed).
        let _ = rustls::crypto::ring::default_provider().install_default();
        // A bucket that is down must not hold up recording a run for minutes (the
        // library's defaults): a failed upload becomes a durable retry job instead.
        let retry = RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(10),
            ..RetryConfig::default()
        };
        let client = ClientOptions::new()
            .with_allow_http(cfg.allow_http)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(30));
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_client_options(client)
            .with_retry(retry);
        match &cfg.credentials {
            Some((id, secret)) => {
                b = b.with_access_key_id(id).with_secret_access_key(secret);
            }
            None if std::env::var_os("AWS_ACCESS_KEY_ID").is_some()
                && std::env::var_os("AWS_SECRET_ACCESS_KEY").is_some() => {}
            None => {
                return Err(BlobError::Remote {
                    op: "configure",
                    message: format!(
                        "{shown}: no credentials: set AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY (instance metadata is never asked)"
                    ),
                });
            }
        }
        if let Some(e) = &cfg.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = &cfg.region {
            b = b.with_region(r);
        } else if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            b = b.with_region("us-east-1");
        }
        let store = b.build().map_err(|e| remote_err("configure", &shown, e))?;
        Ok(RemoteBlobs {
            store: Arc::new(store),
            prefix: ObjectPath::from(prefix.trim_matches('/')),
            shown,
        })
    }

    fn location(&self, sha256: &Hash) -> ObjectPath {
        self.prefix.clone().join("sha256").join(sha256.to_hex())
    }

    /// Uploads `bytes` under their SHA-256. Content-addressed, so uploading the same bytes
    /// twice (two replicas, a retried job) writes the same object.
    pub async fn upload(&self, bytes: &[u8]) -> Result<Hash, BlobError> {
        let sha256 = Hash(Sha256::digest(bytes).into());
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        std::io::Write::write_all(&mut gz, bytes)
            .and_then(|()| gz.try_finish())
            .map_err(|e| remote_err("compress", &self.shown, e))?;
        let body = gz
            .finish()
            .map_err(|e| remote_err("compress", &self.shown, e))?;
        self.store
            .put(&self.location(&sha256), PutPayload::from(body))
            .await
            .map_err(|e| remote_err("upload", &self.shown, e))?;
        Ok(sha256)
    }

    /// Downloads a blob and checks it: [`BlobError::NotFound`] when there is none,
    /// [`BlobError::Remote`] when the object is not a gzip of at most
    /// [`MAX_BLOB_BYTES`] bytes that hash to `sha256`.
    pub async fn download(&self, sha256: &Hash) -> Result<Vec<u8>, BlobError> {
        let got = match self.store.get(&self.location(sha256)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Err(BlobError::NotFound(*sha256)),
            Err(e) => return Err(remote_err("download", &self.shown, e)),
        };
        let gz = got
            .bytes()
            .await
            .map_err(|e| remote_err("download", &self.shown, e))?;
        let mut out = Vec::new();
        GzDecoder::new(&gz[..])
            .take(MAX_BLOB_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| remote_err("decompress", &self.shown, e))?;
        if out.len() as u64 > MAX_BLOB_BYTES {
            return Err(remote_err(
                "decompress",
                &self.shown,
                format!("blob {sha256} is larger than {MAX_BLOB_BYTES} bytes"),
            ));
        }
        let actual = Hash(Sha256::digest(&out).into());
        if actual != *sha256 {
            return Err(remote_err(
                "verify",
                &self.shown,
                format!("object {sha256} holds bytes that hash to {actual}: refused"),
            ));
        }
        Ok(out)
    }

    /// Deletes a blob (retention); deleting one that is not there is not an error.
    pub async fn delete(&self, sha256: &Hash) -> Result<(), BlobError> {
        match self.store.delete(&self.location(sha256)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(remote_err("delete", &self.shown, e)),
        }
    }
}
