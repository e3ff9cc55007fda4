//! `tidings status`: what the running node says of itself, asked on its
//! own NNTP port. For now the digest of its derived state (XSTATE,
//! protocol-spec/state.md §5): two nodes holding the same articles under
//! the same configuration print the same one.

use std::time::Duration;

use anyhow::{bail, Context};

use tidings::client::{blocking, Command};
use tidings::config::Config;
use tidings::proto::Code;

use super::sync::local_address;

const READ_TIMEOUT: Duration = Duration::from_secs(60);

pub fn run(config: &Config) -> anyhow::Result<()> {
    let address = local_address(config);
    let mut node = blocking::Client::connect(address, READ_TIMEOUT)
        .with_context(|| format!("cannot reach the node at {address}; is it running?"))?;
    let greeting = node.response()?;
    if !matches!(greeting.code, Code::READY_POSTING | Code::READY_NO_POSTING) {
        bail!("unexpected greeting: {greeting}");
    }
    let state = node.expect(&Command::Xstate, &[Code::STATE_DIGEST])?;
    let Some(digest) = state.text.split_whitespace().next() else {
        bail!("the node sent no digest: {state}");
    };
    println!("node   {} at {address}", config.node.name);
    println!("state  {digest}");
    let _ = node.quit();
    Ok(())
}
