//! Signature verification shared by all connections: worker threads, one
//! per core, each verifying whatever is queued in one `verify_batch` call
//! (up to 256 signatures), which is two to three times as fast per
//! signature as verifying one at a time. Under light load a batch is a
//! single signature, so nothing waits for a batch to fill.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
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

/// Verifies a batch: one `verify_batch` call when every signature is good,
/// one by one to find the bad ones when it is not.
pub fn verify_all(claims: &[&Claimed]) -> Vec<Outcome> {
    let sound: Vec<bool> = claims.iter().map(|c| !c.field.key.is_weak()).collect();
    if claims.len() > 1 && sound.iter().all(|s| *s) {
        let messages: Vec<&[u8]> = claims.iter().map(|c| c.message.as_ref()).collect();
        let signatures: Vec<_> = claims.iter().map(|c| c.field.signature).collect();
        let keys: Vec<_> = claims.iter().map(|c| c.field.key).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            return keys.into_iter().map(Ok).collect();
        }
    }
    claims.iter().map(|c| verify_one(c)).collect()
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
