//! `tidings user add`: a reader's line in the users file (protocol-spec/
//! access.md), its password (read from stdin, never an argument, so it
//! stays out of shell history and `ps`) kept as an Argon2id hash.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{bail, Context};

use tidings::access::{self, Users};
use tidings::config::Config;

/// Adds `name` to the users file of `config`, or replaces its line.
pub fn add(config: &Config, name: &str, groups: &[String]) -> anyhow::Result<()> {
    if !access::valid_name(name) {
        bail!("{name:?} is not a user name (no white space, ':' or ',')");
    }
    if let Some(bad) = groups.iter().find(|g| !access::valid_name(g)) {
        bail!("{bad:?} is not a group name");
    }
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("no password on stdin");
    }
    let hash = access::hash_password(password)?;
    let path = config.users_path();
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut text: String = old
        .lines()
        .filter(|line| line.split_once(':').is_none_or(|(n, _)| n.trim() != name))
        .map(|line| format!("{line}\n"))
        .collect();
    text.push_str(&format!("{name}:{hash}"));
    if !groups.is_empty() {
        text.push_str(&format!(":{}", groups.join(",")));
    }
    text.push('\n');
    Users::parse(&text).map_err(|(line, why)| anyhow::anyhow!("line {line}: {why}"))?;
    write_private(&path, &text)?;
    println!("{name} is in {}", path.display());
    Ok(())
}

/// Writes the file readable by its owner only, replacing it whole.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}
