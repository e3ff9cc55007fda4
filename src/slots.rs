//! Connection slots per client address, shared by the NNTP and HTTP
//! listeners' accept loops (each with a pool of its own), so one client
//! cannot take every connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Connections per client address, bounded like the whole: a slot is
/// held for the life of a connection and given back when dropped.
pub struct HostSlots {
    limit: usize,
    open: std::sync::Mutex<HashMap<IpAddr, usize>>,
}

pub struct HostSlot {
    hosts: Arc<HostSlots>,
    ip: IpAddr,
}

impl HostSlots {
    pub fn new(limit: usize) -> HostSlots {
        HostSlots {
            limit,
            open: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Poisoning only means a panic elsewhere; each update is one entry.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<HostSlot> {
        let ip = ip.to_canonical();
        let mut open = self.lock();
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(HostSlot {
            hosts: self.clone(),
            ip,
        })
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let mut open = self.hosts.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}
