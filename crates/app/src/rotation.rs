//! Ledger signing keys: where the key of a data dir lives, opening the store with it
//! (finishing a rotation that stopped half-way), and rotating it.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sitrep_ledger::{Signer, Verifier};
use sitrep_store::{Store, StoreError, StoreOptions};

use crate::app::{App, SERVING_LEASE};
use crate::config::Config;
use crate::error::AppError;
use crate::identity::Principal;
use crate::keys;
use crate::stamp::now_ms;

/// Where the ledger signing key of `config` lives.
pub(crate) fn ledger_key_path(config: &Config, data_dir: &Path) -> PathBuf {
    config
        .keys
        .ledger
        .clone()
        .unwrap_or_else(|| data_dir.join(keys::KEY_FILE))
}

/// Opens the store with the key at `key_path`, finishing a key rotation that stopped
/// half-way: when the log retired that key for the one waiting at `<key>.next`, the
/// new key opens it, signs the transition checkpoint together with the old one, and
/// takes the old key's place.
/// The store options that come from the config.
pub(crate) struct StoreTuning {
    pub verify_in_background_above: u64,
    pub acquire_timeout: std::time::Duration,
    pub commit_timeout: std::time::Duration,
}

pub(crate) async fn open_store(
    url: &str,
    key_path: &Path,
    signer: Signer,
    tuning: &StoreTuning,
) -> Result<(Store, Verifier), AppError> {
    // The log's origin is fixed when its key is created (the key carries it as its
    // name); a later config or another tool on the same data dir cannot rename it.
    let options = |signer: Signer| {
        let origin = signer.name().to_owned();
        let mut options = StoreOptions::new(url, signer, origin);
        options.verify_in_background_above = tuning.verify_in_background_above;
        options.acquire_timeout = tuning.acquire_timeout;
        options.commit_timeout = tuning.commit_timeout;
        options
    };
    match Store::open(options(signer.clone())).await {
        Err(StoreError::RetiredKey { key, detail }) => {
            let Some(next) = keys::pending_next(key_path)? else {
                return Err(StoreError::RetiredKey { key, detail }.into());
            };
            let verifier = next.verifier();
            let store = Store::open(options(next)).await?;
            store.cosign_transition(&signer).await?;
            keys::install_next(key_path)?;
            Ok((store, verifier))
        }
        other => {
            let verifier = signer.verifier();
            Ok((other?, verifier))
        }
    }
}

/// What a ledger key rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct KeyRotation {
    /// The retired verifier key.
    pub from: String,
    /// The new verifier key: what auditors add to the keys they pin.
    pub to: String,
    /// The ledger entry of the `ledger.key_rotated` record.
    pub index: u64,
    /// The size of the transition checkpoint both keys signed.
    pub checkpoint_size: u64,
    /// Where the new key is.
    pub key_file: PathBuf,
}

/// Rotates the ledger signing key of `config`'s log: seals a `ledger.key_rotated`
/// record, signs a transition checkpoint with both keys and replaces the key file (the
/// old key is deleted). Refused while a server on the log is up (a server keeps its
/// serving lease fresh), unless `force`; replicas need the new key file before they
/// start again.
pub async fn rotate_ledger_key(
    config: Config,
    actor: &Principal,
    force: bool,
) -> Result<KeyRotation, AppError> {
    let app = App::open(config.clone()).await?;
    let serving = app.serving_replicas(now_ms()).await?;
    if !serving.is_empty() && !force {
        app.close().await;
        let list: Vec<String> = serving
            .iter()
            .map(|l| {
                format!(
                    "{} (until {})",
                    l.name.trim_start_matches(SERVING_LEASE),
                    l.expires_ms
                )
            })
            .collect();
        return Err(AppError::Denied {
            reason: format!(
                "a server is up on this log (replica {}): stop every server first, or wait \
                 for the lease to lapse if it died; a server left running cannot sign \
                 anything after the rotation and stays not ready until restarted",
                list.join(", ")
            ),
        });
    }
    let key_path = ledger_key_path(&config, &app.inner.data_dir);
    let from = app.verifier().clone();
    // The next key is on disk before the log names it, so a crash at any point
    // leaves a log that the next start finishes moving to it.
    let next = keys::prepare_next(&key_path, from.name())?;
    let index = match app
        .store()
        .record_key_rotation(
            &next.verifier(),
            &actor.name,
            &actor.id,
            u64::try_from(now_ms()).unwrap_or(0),
        )
        .await
    {
        Ok(index) => index,
        Err(e) => {
            // Nothing was recorded: the waiting key must not be taken for a rotation.
            let _ = std::fs::remove_file(keys::next_key_path(&key_path));
            app.close().await;
            return Err(e.into());
        }
    };
    app.close().await;
    let app = App::open(config).await?;
    let checkpoint_size = app.store().latest_checkpoint().await?.map_or(0, |c| c.size);
    let rotation = KeyRotation {
        from: from.to_string(),
        to: app.verifier().to_string(),
        index,
        checkpoint_size,
        key_file: key_path,
    };
    app.close().await;
    Ok(rotation)
}
