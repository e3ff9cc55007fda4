//! Whether a file control holds (protocol-spec/files.md §8): a removal or
//! a placeholder of a file, signed by the author of the post it names or
//! a moderator of every board that post names, holds once that post is
//! here and references the file; the operator's local removal holds at
//! once. Judged from what is stored, so the outcome is the same whatever
//! arrived first. A removal that held is marked for good (a tombstone), so
//! the file is not taken again even after the post it named is gone.

use bytes::Bytes;
use ed25519_dalek::VerifyingKey;

use crate::ingest::authority;
use crate::proto::article::Article;
use crate::proto::signing;
use crate::store::schema::FileControl;
use crate::store::{Store, StoreError};
use crate::trust::Trust;

/// What readers are shown of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    Live,
    /// Removed, with why: its bytes go and are never taken again.
    Removed(String),
    /// Shown as this other file (the latest placeholder that holds).
    Placeholder([u8; 32]),
}

/// Judges the controls kept under `hash`; a removal that holds is marked
/// for good.
pub fn judge(store: &Store, trust: &Trust, hash: &[u8; 32]) -> Result<FileState, StoreError> {
    if let Some(reason) = store.file_tombstone(hash)? {
        return Ok(FileState::Removed(reason));
    }
    let mut shown: Option<(u64, Vec<u8>, [u8; 32])> = None;
    for (control, record) in store.file_controls(hash)? {
        if !holds(store, trust, hash, &record)? {
            continue;
        }
        match record.placeholder {
            None => {
                let reason = if record.target.is_empty() {
                    "removed by this node's operator".to_string()
                } else {
                    format!(
                        "removed by {} ({})",
                        &hex::encode(record.signer)[..8],
                        String::from_utf8_lossy(&control)
                    )
                };
                store.put_file_tombstone(hash, &reason)?;
                return Ok(FileState::Removed(reason));
            }
            // The later Date wins, then the greater Message-ID: the
            // last-writer-wins order of every control (state.md §1).
            Some(placeholder) => {
                let later = shown
                    .as_ref()
                    .is_none_or(|(date, id, _)| (record.date, &control) > (*date, id));
                if later {
                    shown = Some((record.date, control, placeholder));
                }
            }
        }
    }
    Ok(shown.map_or(FileState::Live, |(_, _, p)| FileState::Placeholder(p)))
}

/// Whether one control holds.
fn holds(
    store: &Store,
    trust: &Trust,
    hash: &[u8; 32],
    record: &FileControl,
) -> Result<bool, StoreError> {
    let Ok(signer) = VerifyingKey::from_bytes(&record.signer) else {
        return Ok(false);
    };
    if record.target.is_empty() {
        return Ok(signer == *trust.own_key());
    }
    let Some(post) = store
        .any_article(&record.target)?
        .and_then(|bytes| Article::parse(Bytes::from(bytes)).ok())
    else {
        return Ok(false);
    };
    let references = crate::proto::file_ref::of(&post).is_ok_and(|files| {
        files
            .iter()
            .any(|f| f.hash == *hash || f.thumbnail == Some(*hash))
    });
    if !references {
        return Ok(false);
    }
    if signing::names_key(&record.target) && signing::message_id_key(&record.target) == Some(signer)
    {
        return Ok(true);
    }
    let post_signer = signing::claimed_key(&post).ok();
    Ok(authority::cancel_holds(
        &signer,
        &post,
        post_signer.as_ref(),
        trust,
    ))
}
