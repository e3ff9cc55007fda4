//! Secret key files: 64 hex digits of an ed25519 secret key and a newline,
//! mode 0600. Used for node keys and for users' passports.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ed25519_dalek::SigningKey;

#[derive(Debug, thiserror::Error)]
#[error("key file {path}: {message}")]
pub struct KeyError {
    pub path: String,
    pub message: String,
}

fn error(path: &Path, message: impl Into<String>) -> KeyError {
    KeyError {
        path: path.display().to_string(),
        message: message.into(),
    }
}

pub fn read_secret_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| error(path, e.to_string()))?;
    let bytes = hex::decode(text.trim()).map_err(|e| error(path, format!("not hex: {e}")))?;
    let secret: [u8; 32] = bytes
        .try_into()
        .map_err(|_| error(path, "must hold 32 bytes (64 hex digits)"))?;
    Ok(SigningKey::from_bytes(&secret))
}

/// Creates a new key file; refuses to overwrite an existing one.
pub fn write_new_secret_key(path: &Path) -> Result<SigningKey, KeyError> {
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret).map_err(|e| error(path, format!("no randomness: {e}")))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| error(path, e.to_string()))?;
    writeln!(file, "{}", hex::encode(secret))
        .and_then(|()| file.sync_all())
        .map_err(|e| error(path, e.to_string()))?;
    Ok(SigningKey::from_bytes(&secret))
}

/// Reads the key, creating it first if the file does not exist.
pub fn read_or_create_secret_key(path: &Path) -> Result<(SigningKey, bool), KeyError> {
    if path.exists() {
        Ok((read_secret_key(path)?, false))
    } else {
        Ok((write_new_secret_key(path)?, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_keys_are_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        let key = write_new_secret_key(&path).expect("written");
        assert_eq!(
            std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            read_secret_key(&path).expect("read").to_bytes(),
            key.to_bytes()
        );
        assert!(write_new_secret_key(&path).is_err(), "never overwrites");
        std::fs::write(dir.path().join("bad"), "xyz").expect("write");
        assert!(read_secret_key(&dir.path().join("bad")).is_err());
    }
}
