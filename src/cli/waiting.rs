//! `tidings held` and `tidings pending`: the posts waiting for the
//! operator's approval or for their signer's passport, listed and decided
//! through the running node's admin listener (README "Monitoring"), so no
//! operator greps a log. A decision is filed by the node as a
//! `local-approve` or `local-remove` control signed with its key.

use tidings::config::Config;

use super::status::{admin_address, admin_request};

/// What to do with a waiting room.
pub enum Action {
    List,
    Approve(String),
    Remove(String),
}

/// `room` is `held` or `pending`.
pub fn run(config: &Config, room: &str, action: &Action) -> anyhow::Result<()> {
    let admin = admin_address(config)?;
    match action {
        Action::List => {
            let listed = admin_request(admin, "GET", &format!("/waiting/{room}"))?;
            let posts = listed["posts"].as_array().cloned().unwrap_or_default();
            if posts.is_empty() {
                println!("no {room} posts");
            }
            for post in posts {
                let text = |name: &str| post[name].as_str().unwrap_or("-").to_string();
                println!(
                    "{}  {}  {}  {}{}",
                    text("message_id"),
                    text("newsgroups"),
                    text("from"),
                    text("subject"),
                    post["signer"].as_str().map_or(String::new(), |s| format!(
                        "  (signer {})",
                        &s[..s.len().min(16)]
                    )),
                );
            }
        }
        Action::Approve(id) | Action::Remove(id) => {
            let verb = if matches!(action, Action::Approve(_)) {
                "approve"
            } else {
                "remove"
            };
            let path = format!("/waiting/{room}/{}/{verb}", percent(id));
            let done = admin_request(admin, "POST", &path)?;
            println!(
                "{} {id}: control {}",
                done["done"].as_str().unwrap_or(verb),
                done["control"].as_str().unwrap_or("-")
            );
        }
    }
    Ok(())
}

/// A Message-ID as one path segment: `<`, `>`, `/`, `%`, `?`, `#` and
/// spaces escaped.
fn percent(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '<' | '>' | '/' | '%' | '?' | '#' | ' ' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_ids_fit_in_a_path_segment() {
        assert_eq!(super::percent("<a/b%c@x y>"), "%3Ca%2Fb%25c@x%20y%3E");
    }
}
