//! Blobs in a real S3-compatible server (moto on loopback): uploaded, downloaded and
//! verified; a missing object is `NotFound`; a swapped or damaged object is refused.

#[path = "support/moto.rs"]
mod moto;

use flate2::Compression;
use flate2::write::GzEncoder;
use object_store::ObjectStoreExt as _;
use sitrep_evidence::BlobError;
use sitrep_evidence::remote::{RemoteBlobs, RemoteConfig};
use std::io::Write as _;

fn config(m: &moto::Moto) -> RemoteConfig {
    RemoteConfig {
        url: "s3://evidence/site-a".into(),
        endpoint: Some(m.endpoint()),
        region: Some("us-east-1".into()),
        allow_http: true,
        credentials: Some(("test".into(), "test-secret".into())),
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_round_trip_and_bad_objects_are_refused() {
    let m = moto::Moto::start("evidence");
    let remote = RemoteBlobs::s3(&config(&m)).unwrap();
    let out = b"NAME   READY   STATUS\ncheckout-1   0/1   CrashLoopBackOff\n".repeat(100);
    let sha = remote.upload(&out).await.unwrap();
    assert_eq!(remote.download(&sha).await.unwrap(), out);
    // Uploading the same bytes again is harmless.
    assert_eq!(remote.upload(&out).await.unwrap(), sha);

    let other = remote.upload(b"other").await.unwrap();
    let missing = sitrep_ledger::Hash([7; 32]);
    assert!(matches!(
        remote.download(&missing).await,
        Err(BlobError::NotFound(h)) if h == missing
    ));

    // Someone with write access to the bucket swaps the object for other (valid gzip)
    // bytes: refused, naming both hashes.
    let bucket = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("evidence")
        .with_endpoint(m.endpoint())
        .with_region("us-east-1")
        .with_allow_http(true)
        .with_access_key_id("test")
        .with_secret_access_key("test-secret")
        .build()
        .unwrap();
    let key = object_store::path::Path::from(format!("site-a/sha256/{}", other.to_hex()));
    bucket.put(&key, gz(b"forged").into()).await.unwrap();
    let err = remote.download(&other).await.unwrap_err().to_string();
    assert!(
        err.contains("refused") && err.contains(&other.to_hex()),
        "{err}"
    );
    // Or for garbage: refused as well.
    bucket
        .put(&key, b"not gzip at all".to_vec().into())
        .await
        .unwrap();
    assert!(remote.download(&other).await.is_err());

    // Configuration errors name what is wrong, without credentials.
    let mut bad = config(&m);
    bad.url = "https://evidence".into();
    assert!(
        RemoteBlobs::s3(&bad)
            .unwrap_err()
            .to_string()
            .contains("s3://bucket")
    );
    bad.url = "s3://".into();
    assert!(
        RemoteBlobs::s3(&bad)
            .unwrap_err()
            .to_string()
            .contains("no bucket")
    );
    let mut anon = config(&m);
    anon.credentials = None;
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let e = RemoteBlobs::s3(&anon).unwrap_err().to_string();
        assert!(e.contains("no credentials"), "{e}");
        assert!(!e.contains("test-secret"));
    }
}
