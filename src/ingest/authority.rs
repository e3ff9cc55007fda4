//! Who may cause which effect: control messages and Supersedes, checked
//! against the signer's standing before anything is written.

use ed25519_dalek::VerifyingKey;

use crate::proto::article::Article;
use crate::proto::audience::{Audience, Scope};
use crate::proto::control::Control;
use crate::proto::signing::{self, key_hex};
use crate::store::commit::Effect;
use crate::store::schema::{
    BoardChange, BoardControl, FileControl, GrantRecord, Introduction, MoveRecord,
};
use crate::trust::{Standing, Trust};

/// The first eight hex digits of a key, for reasons and logs.
pub(super) fn short(key: &VerifyingKey) -> String {
    key_hex(key)[..8].to_string()
}

/// May `signer` edit `target` (Supersedes) *whatever `target` turns out to
/// be*? Decided from the edit alone, so every node takes or refuses it
/// alike: the key `target`'s Message-ID names, a node key for a free
/// Message-ID (only node keys sign those), or a moderator of every board
/// the edit names. Whether the edit then replaces `target` is judged from
/// both once both are here (state.md §3b, `settle::edit_holds`).
pub fn may_edit(
    signer: &VerifyingKey,
    target: &[u8],
    edit: &Article,
    standing: &Standing,
    trust: &Trust,
) -> Result<(), String> {
    if signing::names_key(target) {
        if signing::message_id_key(target) == Some(*signer) {
            return Ok(());
        }
    } else if matches!(standing, Standing::Node(_)) {
        return Ok(());
    }
    if moderates_all(signer, edit, trust) {
        return Ok(());
    }
    Err(format!(
        "key {} is neither the author of {} nor a moderator of the boards the edit names",
        short(signer),
        String::from_utf8_lossy(target)
    ))
}

/// Whether `signer` moderates every board `article` names (and it names one).
fn moderates_all(signer: &VerifyingKey, article: &Article, trust: &Trust) -> bool {
    let boards = article.newsgroups();
    !boards.is_empty()
        && boards
            .iter()
            .all(|b| std::str::from_utf8(b).is_ok_and(|b| trust.moderates(signer, b)))
}

/// A control's Date in seconds since the epoch, 0 before it: the first
/// half of its last-writer-wins order (state.md §1).
pub fn date_secs(article: &Article) -> u64 {
    article
        .header_unfolded("Date")
        .and_then(|d| crate::proto::article::parse_date(&d))
        .map_or(0, |d| u64::try_from(d.timestamp()).unwrap_or(0))
}

/// Whether a kept cancel by `signer` removes `target`: its author signed
/// it (a free Message-ID's author is its signer), or a moderator of every
/// board its own Newsgroups header names. Decided from the target alone,
/// so the same wherever and whenever it is judged (state.md §4a).
pub fn cancel_holds(
    signer: &VerifyingKey,
    target: &Article,
    target_signer: Option<&VerifyingKey>,
    trust: &Trust,
) -> bool {
    if target_signer == Some(signer) {
        return true;
    }
    let boards = target.newsgroups();
    !boards.is_empty()
        && boards
            .iter()
            .all(|b| std::str::from_utf8(b).is_ok_and(|b| trust.moderates(signer, b)))
}

fn board_control(name: &str, article: &Article, change: BoardChange) -> Effect {
    Effect::Board {
        name: name.to_string(),
        control: BoardControl {
            control: article.message_id().unwrap_or_default(),
            date: date_secs(article),
            change,
        },
    }
}

fn description(article: &Article) -> String {
    let body = article.body();
    let line = body
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).trim().to_string())
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    line.replace('\t', " ").chars().take(200).collect()
}

fn grant(
    signer: &VerifyingKey,
    article: &Article,
    audience: &str,
    grantee: &[u8; 32],
    scope: Option<Scope>,
    expires: Option<u64>,
) -> Effect {
    Effect::Grant {
        audience: Audience {
            owner: signer.to_bytes(),
            name: audience.to_string(),
        },
        grantee: *grantee,
        record: GrantRecord {
            date: date_secs(article),
            control: article.message_id().unwrap_or_default(),
            scope,
            expires,
        },
    }
}

fn node_rights(
    signer: &VerifyingKey,
    standing: &Standing,
    what: &str,
) -> Result<crate::trust::NodeRights, String> {
    match standing {
        Standing::Node(rights) => Ok(rights.clone()),
        _ => Err(format!(
            "only a trusted node key may sign {what}; {} is not one",
            short(signer)
        )),
    }
}

/// The effects of a control message, or why the signer may not send it.
/// `local` is true for POST from this node's own clients.
pub fn control(
    control: &Control,
    signer: &VerifyingKey,
    standing: &Standing,
    article: &Article,
    trust: &Trust,
    local: bool,
) -> Result<Vec<Effect>, String> {
    let board = |name: &str, what: &str| -> Result<(), String> {
        let rights = node_rights(signer, standing, what)?;
        if rights.manages(name) {
            Ok(())
        } else {
            Err(format!("node {} may not manage board {name}", rights.name))
        }
    };
    Ok(match control {
        Control::Passport(key) => {
            if !node_rights(signer, standing, "passports")?.passports {
                return Err(format!(
                    "node key {} is not trusted to issue passports",
                    short(signer)
                ));
            }
            vec![Effect::Passport {
                key: key.to_bytes(),
                issuer: signer.to_bytes(),
            }]
        }
        Control::Revoke(key) => {
            let self_revocation = key == signer;
            if !self_revocation && !node_rights(signer, standing, "revocations")?.passports {
                return Err(format!(
                    "node key {} is not trusted to revoke passports",
                    short(signer)
                ));
            }
            if trust.node_rights(key).is_some() {
                return Err(
                    "node keys are revoked by configuration, not by control messages".into(),
                );
            }
            vec![Effect::Revoke {
                key: key.to_bytes(),
                by: signer.to_bytes(),
                since: date_secs(article),
            }]
        }
        // Whoever signs a grant owns the audience it grants: there is no
        // one else's audience to give away (access.md §7).
        Control::Grant {
            audience,
            grantee,
            scope,
            expires,
        } => vec![grant(
            signer,
            article,
            audience,
            grantee,
            Some(*scope),
            *expires,
        )],
        Control::Ungrant { audience, grantee } => {
            vec![grant(signer, article, audience, grantee, None, None)]
        }
        Control::Introduce {
            key,
            name,
            expires,
            passports,
            boards,
        } => {
            if !node_rights(signer, standing, "introductions")?.introduce {
                return Err(format!(
                    "node key {} is not trusted to introduce nodes",
                    short(signer)
                ));
            }
            vec![Effect::Introduce {
                key: key.to_bytes(),
                by: signer.to_bytes(),
                intro: Introduction {
                    name: name.clone(),
                    expires: *expires,
                    passports: *passports,
                    boards: boards.clone(),
                },
            }]
        }
        // A withdrawal counts from its Date as a revocation does; a node
        // whose configuration lists the key keeps trusting it.
        Control::Withdraw(key) => {
            if !node_rights(signer, standing, "withdrawals")?.introduce {
                return Err(format!(
                    "node key {} is not trusted to withdraw introductions",
                    short(signer)
                ));
            }
            vec![Effect::Revoke {
                key: key.to_bytes(),
                by: signer.to_bytes(),
                since: date_secs(article),
            }]
        }
        Control::Rotate(new) => {
            node_rights(signer, standing, "key rotations")?;
            vec![Effect::Rotate {
                old: signer.to_bytes(),
                new: new.to_bytes(),
            }]
        }
        // Kept under the board whatever came before; the board is what all
        // of its controls give, the later-dated winning (state.md §4).
        Control::NewGroup { name, hidden } => {
            board(name, "board creation")?;
            vec![board_control(
                name,
                article,
                BoardChange::New {
                    description: description(article),
                    hidden: *hidden,
                },
            )]
        }
        Control::ModGroup { name, hidden } => {
            board(name, "board changes")?;
            let text = description(article);
            vec![board_control(
                name,
                article,
                BoardChange::Modify {
                    description: (!text.is_empty()).then_some(text),
                    hidden: *hidden,
                },
            )]
        }
        Control::RmGroup(name) => {
            board(name, "board deletion")?;
            vec![board_control(name, article, BoardChange::Remove)]
        }
        // The author of a bound Message-ID is known from the ID alone: the
        // target goes, or is refused when it comes. Anyone else's authority
        // (a moderator's, or the signer of a free ID, always a node key)
        // only the target can show: the cancel is kept under it and judged
        // from the stored target, whichever arrives first (state.md §4a).
        Control::Cancel(target) => {
            if signing::names_key(target) && signing::message_id_key(target) == Some(*signer) {
                let reason = format!("cancelled by {}", short(signer));
                return Ok(vec![Effect::Remove {
                    message_id: target.clone(),
                    reason,
                }]);
            }
            let moderator = moderates_all(signer, article, trust);
            let may_be_author =
                !signing::names_key(target) && matches!(standing, Standing::Node(_));
            if !moderator && !may_be_author {
                return Err(format!(
                    "key {} is neither the author of {} nor a moderator of the boards the cancel names",
                    short(signer),
                    String::from_utf8_lossy(target)
                ));
            }
            vec![Effect::RecordCancel {
                target: target.clone(),
                control: article.message_id().unwrap_or_default(),
                signer: signer.to_bytes(),
            }]
        }
        // Kept whether or not its thread is here, and whoever signed it:
        // which move wins, and whether its signer may move that thread, is
        // settled from what is stored (settle.rs, state.md §3), so the
        // outcome does not depend on what arrived first.
        Control::Move { message_id, to } => vec![Effect::RecordMove {
            target: message_id.clone(),
            record: MoveRecord {
                control: article.message_id().unwrap_or_default(),
                date: date_secs(article),
                signer: signer.to_bytes(),
                to: to.clone(),
            },
        }],
        // Whether a file control holds is judged from the post it names
        // once that post is here (transfer/moderation.rs, files.md §8):
        // here only whether its signer could be that post's author or a
        // moderator of its boards, as for a cancel.
        Control::FileRemove { file, message_id }
        | Control::FilePlaceholder {
            file, message_id, ..
        } => {
            let author = signing::names_key(message_id)
                && signing::message_id_key(message_id) == Some(*signer);
            let moderator = moderates_all(signer, article, trust);
            let may_be_author =
                !signing::names_key(message_id) && matches!(standing, Standing::Node(_));
            if !author && !moderator && !may_be_author {
                return Err(format!(
                    "key {} is neither the author of {} nor a moderator of the boards the control names",
                    short(signer),
                    String::from_utf8_lossy(message_id)
                ));
            }
            let placeholder = match control {
                Control::FilePlaceholder { placeholder, .. } => Some(*placeholder),
                _ => None,
            };
            vec![Effect::RecordFileControl {
                file: *file,
                control: article.message_id().unwrap_or_default(),
                record: FileControl {
                    date: date_secs(article),
                    signer: signer.to_bytes(),
                    target: message_id.clone(),
                    placeholder,
                },
            }]
        }
        Control::LocalRemove(_)
        | Control::LocalRmGroup(_)
        | Control::LocalApprove(_)
        | Control::LocalRefuseThread(_)
        | Control::LocalFileRemove(_)
        | Control::LocalFilePin { .. }
            if !local || signer != trust.own_key() =>
        {
            return Err(
                "local control messages are only taken by POST, signed by this node's key".into(),
            )
        }
        Control::LocalRemove(target) => {
            vec![Effect::Remove {
                message_id: target.clone(),
                reason: "removed by the operator".into(),
            }]
        }
        Control::LocalRmGroup(name) => vec![Effect::RmGroup { name: name.clone() }],
        Control::LocalRefuseThread(root) => vec![Effect::RefuseThread {
            root: root.clone(),
            reason: "its thread was refused by the operator".into(),
        }],
        Control::LocalFileRemove(file) => vec![Effect::RecordFileControl {
            file: *file,
            control: article.message_id().unwrap_or_default(),
            record: FileControl {
                date: date_secs(article),
                signer: signer.to_bytes(),
                target: Vec::new(),
                placeholder: None,
            },
        }],
        Control::LocalFilePin { file, pinned } => vec![Effect::PinFile {
            file: *file,
            control: article.message_id().unwrap_or_default(),
            pinned: *pinned,
        }],
        // The held post is decided again by ingest, which adds the effect.
        Control::LocalApprove(_) => Vec::new(),
    })
}
