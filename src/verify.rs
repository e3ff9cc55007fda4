//! Signature verification shared by all connections: worker threads, one
//! per core, each checking whatever is queued with one batch equation (up
//! to 256 signatures, each key's terms added up: [`batch_holds`]), which is
//! two to four times as fast per signature as verifying one at a time.
//! Under light load a batch is a single signature, so nothing waits for a
//! batch to fill.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha512};
use tokio::sync::{mpsc, oneshot};

use crate::proto::signing::{Claimed, SigError};

/// Most signatures verified in one batch. Past 95 signatures the
/// multiscalar multiplication switches from Straus's method to
/// Pippenger's: `cargo bench --bench verify` measured 49k signatures/s per
/// core in batches of 64, 63k in batches of 128 and 68k in batches of 256.
/// A full batch of 256 takes under 4 ms, well inside any reply deadline.
const BATCH: usize = 256;

type Outcome = Result<VerifyingKey, SigError>;

struct Job {
    claimed: Claimed,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Clone)]
pub struct Verifier {
    workers: Arc<Vec<mpsc::UnboundedSender<Job>>>,
    next: Arc<AtomicUsize>,
}

impl Verifier {
    /// Starts `threads` workers (at least one). They stop when the last
    /// `Verifier` clone is dropped.
    pub fn start(threads: usize) -> std::io::Result<Verifier> {
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            std::thread::Builder::new()
                .name(format!("verify-{i}"))
                .spawn(move || work(rx))?;
            workers.push(tx);
        }
        Ok(Verifier {
            workers: Arc::new(workers),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Verifies one claimed signature, batched with whatever else is queued.
    pub async fn verify(&self, claimed: Claimed) -> Outcome {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        let (reply, answer) = oneshot::channel();
        let job = Job { claimed, reply };
        if let Err(mpsc::error::SendError(job)) = self.workers[i].send(job) {
            // Workers only stop at shutdown; verify here rather than fail.
            return verify_one(&job.claimed);
        }
        answer.await.unwrap_or(Err(SigError::BadSignature))
    }
}

fn verify_one(claimed: &Claimed) -> Outcome {
    if claimed.field.key.is_weak() {
        return Err(SigError::BadSignature);
    }
    claimed.verify()
}

fn work(mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while let Some(job) = rx.blocking_recv() {
        jobs.push(job);
        while jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let claims: Vec<&Claimed> = jobs.iter().map(|job| &job.claimed).collect();
        let outcomes = verify_all(&claims);
        for (job, outcome) in jobs.drain(..).zip(outcomes) {
            // The session may have gone away meanwhile.
            let _ = job.reply.send(outcome);
        }
    }
}

/// Verifies a batch: one batch equation when every signature is good, one
/// by one to find the bad ones when it is not.
pub fn verify_all(claims: &[&Claimed]) -> Vec<Outcome> {
    if claims.len() > 1 && claims.iter().all(|c| !c.field.key.is_weak()) && batch_holds(claims) {
        return claims.iter().map(|c| Ok(c.field.key)).collect();
    }
    claims.iter().map(|c| verify_one(c)).collect()
}

/// The batch equation of `ed25519_dalek::verify_batch`, with each key's
/// terms added up before the multiscalar multiplication. With random
/// 128-bit weights z_i, signatures (R_i, s_i) by keys A_i over messages M_i
/// are all good if and only if (but for a chance of about 2^-128)
///
///   [-sum z_i s_i] B + sum z_i R_i + sum_A [sum_{i by A} z_i h_i] A = 0,
///   h_i = SHA-512(R_i || A_i || M_i) mod l,
///
/// which is ed25519-dalek's own equation (same weights' size, same checks
/// of s and R) regrouped by linearity. Articles come from few keys (a node
/// signs every post of its web clients with its own key), so the
/// multiplication has n + keys + 1 points instead of 2n + 1: with one key,
/// nearly half the work (`cargo bench --bench verify`).
pub fn batch_holds(claims: &[&Claimed]) -> bool {
    let mut weights = vec![0u8; 16 * claims.len()];
    if getrandom::getrandom(&mut weights).is_err() {
        return false;
    }
    let mut base = Scalar::ZERO;
    let mut scalars = Vec::with_capacity(claims.len() * 2 + 1);
    let mut points = Vec::with_capacity(claims.len() * 2 + 1);
    // Few keys, or a batch of at most BATCH: a scan beats hashing.
    let mut keys: Vec<(&[u8; 32], Scalar, EdwardsPoint)> = Vec::new();
    for (claim, weight) in claims.iter().zip(weights.chunks_exact(16)) {
        let mut z = [0u8; 16];
        z.copy_from_slice(weight);
        let z = Scalar::from(u128::from_le_bytes(z));
        let signature = &claim.field.signature;
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes()))
        else {
            return false;
        };
        let Some(r) = CompressedEdwardsY(*signature.r_bytes()).decompress() else {
            return false;
        };
        let key = &claim.field.key;
        let h = Scalar::from_hash(
            Sha512::new()
                .chain_update(signature.r_bytes())
                .chain_update(key.as_bytes())
                .chain_update(&claim.message),
        );
        base += z * s;
        scalars.push(z);
        points.push(r);
        match keys
            .iter_mut()
            .find(|(bytes, _, _)| *bytes == key.as_bytes())
        {
            Some((_, sum, _)) => *sum += z * h,
            None => keys.push((key.as_bytes(), z * h, key.to_edwards())),
        }
    }
    scalars.push(-base);
    points.push(curve25519_dalek::constants::ED25519_BASEPOINT_POINT);
    for (_, sum, point) in keys {
        scalars.push(sum);
        points.push(point);
    }
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use ed25519_dalek::{Signer, SigningKey};

    use crate::proto::signing::SignatureField;

    fn claim(seed: u8, message: &'static [u8], good: bool) -> Claimed {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let signed: &[u8] = if good { message } else { b"something else" };
        Claimed {
            field: SignatureField {
                key: key.verifying_key(),
                signature: key.sign(signed),
            },
            message: Bytes::from_static(message),
        }
    }

    #[test]
    fn a_bad_signature_in_a_batch_is_found() {
        let claims = [
            claim(1, b"a", true),
            claim(2, b"b", false),
            claim(3, b"c", true),
        ];
        let refs: Vec<&Claimed> = claims.iter().collect();
        let outcomes = verify_all(&refs);
        assert!(outcomes[0].is_ok() && outcomes[2].is_ok());
        assert_eq!(outcomes[1], Err(SigError::BadSignature));
        let good: Vec<&Claimed> = vec![&claims[0], &claims[2]];
        assert!(verify_all(&good).iter().all(Result::is_ok));
    }

    /// The signature with s + l in place of s: the same point equation,
    /// a non-canonical encoding both batch checks must refuse.
    fn with_s_plus_l(claim: &Claimed) -> Claimed {
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut bytes = claim.field.signature.to_bytes();
        let mut carry = 0u16;
        for (b, l) in bytes[32..].iter_mut().zip(L) {
            let sum = u16::from(*b) + u16::from(l) + carry;
            *b = sum as u8;
            carry = sum >> 8;
        }
        Claimed {
            field: SignatureField {
                key: claim.field.key,
                signature: ed25519_dalek::Signature::from_bytes(&bytes),
            },
            message: claim.message.clone(),
        }
    }

    type Spoil<'a> = Box<dyn Fn(&mut Vec<Claimed>) + 'a>;

    /// Batches of one key, a few keys and as many keys as signatures, each
    /// whole and with one signature spoilt in each way: the grouped
    /// equation says what ed25519-dalek's says, and refuses every spoilt
    /// batch.
    #[test]
    fn the_grouped_batch_agrees_with_dalek() {
        const MESSAGES: [&[u8]; 8] = [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7"];
        for keys in [1usize, 3, 64] {
            for size in [2usize, 7, 64] {
                let good: Vec<Claimed> = (0..size)
                    .map(|i| claim((i % keys) as u8, MESSAGES[i % 8], true))
                    .collect();
                let spoilt_at = size / 2;
                let other = (spoilt_at + 1) % size;
                let spoils: [(&str, Spoil); 5] = [
                    ("none", Box::new(|_| {})),
                    (
                        "message",
                        Box::new(|b| b[spoilt_at].message = Bytes::from_static(b"x")),
                    ),
                    (
                        "s + l",
                        Box::new(|b| b[spoilt_at] = with_s_plus_l(&b[spoilt_at])),
                    ),
                    (
                        "another key",
                        Box::new(|b| b[spoilt_at].field.key = claim(200, b"", true).field.key),
                    ),
                    (
                        "signatures swapped",
                        Box::new(|b| {
                            let s = b[spoilt_at].field.signature;
                            b[spoilt_at].field.signature = b[other].field.signature;
                            b[other].field.signature = s;
                        }),
                    ),
                ];
                for (what, spoil) in &spoils {
                    let mut batch = good.clone();
                    spoil(&mut batch);
                    let refs: Vec<&Claimed> = batch.iter().collect();
                    let messages: Vec<&[u8]> = batch.iter().map(|c| c.message.as_ref()).collect();
                    let signatures: Vec<_> = batch.iter().map(|c| c.field.signature).collect();
                    let keys_of: Vec<_> = batch.iter().map(|c| c.field.key).collect();
                    let dalek =
                        ed25519_dalek::verify_batch(&messages, &signatures, &keys_of).is_ok();
                    let ours = batch_holds(&refs);
                    let case = format!("{keys} keys, {size} signatures, spoilt: {what}");
                    assert_eq!(ours, dalek, "{case}");
                    // Swapping identical signatures (same key and message)
                    // spoils nothing.
                    let unchanged = batch.iter().zip(&good).all(|(a, b)| {
                        a.field.signature == b.field.signature
                            && a.field.key == b.field.key
                            && a.message == b.message
                    });
                    assert_eq!(ours, unchanged, "{case}");
                }
            }
        }
    }

    #[tokio::test]
    async fn workers_answer_every_request() {
        let verifier = Verifier::start(2).expect("threads");
        let mut answers = Vec::new();
        for i in 0..200u8 {
            let v = verifier.clone();
            answers.push(tokio::spawn(async move {
                v.verify(claim(i, b"m", i % 7 != 0)).await
            }));
        }
        for (i, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.await.expect("task").is_ok(), i % 7 != 0, "{i}");
        }
    }
}
