//! Which due deliveries start now. Each delivery holds one slot while it is attempted: a slot of
//! its target (at most [`PER_TARGET`] at once) and one of the process ([`IN_FLIGHT`] at once), so a
//! receiver that never answers holds its own slots only, never the queue. Tenants take turns
//! (one start each per round, oldest first within a tenant), and a target with its slots full is
//! passed over, so neither a busy tenant nor a crowded target keeps the others waiting.
//!
//! Shares bound what one tenant can hold however many targets it has: at most [`PER_TENANT`]
//! attempts of a tenant at once, of which at most [`PER_TENANT_CALLBACKS`] callbacks, and at most
//! [`CALLBACKS`] callbacks of all tenants together. A callback goes where the agent said, so an
//! agent pointing callbacks at many dead receivers holds a few of its own tenant's slots, and
//! reviewers' messages (to channels the tenant's administrators set) always keep slots of their
//! own.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Channel, Delivery};

/// Attempts in flight at once to one target (a URL's scheme, host and port; a mail domain).
pub const PER_TARGET: usize = 2;
/// Attempts in flight at once in one process (the local server, one notify invocation).
pub const IN_FLIGHT: usize = 32;
/// Attempts of one tenant in flight at once.
pub const PER_TENANT: usize = 8;
/// Callbacks of one tenant in flight at once.
pub const PER_TENANT_CALLBACKS: usize = 4;
/// Callbacks of all tenants in flight at once: the other slots are reviewers' messages'.
pub const CALLBACKS: usize = 24;

/// Whose slot a delivery takes: the origin of a URL (a host on another port is another
/// receiver), the domain of a mail address.
pub fn target_of(d: &Delivery) -> String {
    match d.channel {
        Channel::Email => {
            let domain = d.target.rsplit_once('@').map_or("", |(_, domain)| domain);
            format!("mail:{}", domain.trim_end_matches('>').to_ascii_lowercase())
        }
        Channel::Webhook | Channel::Callback => match url::Url::parse(&d.target) {
            Ok(u) => u.origin().ascii_serialization(),
            Err(_) => d.target.clone(),
        },
        // Slack limits posts per conversation: one reviewer's DM with the tenant's app.
        Channel::Slack => format!("slack:{}/{}", d.tenant, d.target),
    }
}

/// The slots held by attempts in flight.
#[derive(Debug)]
pub struct Slots {
    per_target: usize,
    in_flight: usize,
    per_tenant: usize,
    per_tenant_callbacks: usize,
    callbacks: usize,
    /// Delivery id to what it holds, while it is attempted: never taken twice at once.
    taken: HashMap<String, Holder>,
    /// Attempts in flight per target.
    held: HashMap<String, usize>,
    /// Attempts and callbacks in flight per tenant.
    tenants: HashMap<String, (usize, usize)>,
    callbacks_held: usize,
}

/// What an attempt in flight holds.
#[derive(Debug)]
struct Holder {
    target: String,
    tenant: String,
    callback: bool,
}

/// What [`Slots::take`] made of the due deliveries.
#[derive(Debug, Default)]
pub struct Taken {
    /// Started now: each holds its slots until [`Slots::release`].
    pub start: Vec<Delivery>,
    /// Not started because their target's slots, or their tenant's share, are full.
    pub waiting: Vec<Delivery>,
    /// Not started because the process's slots are full.
    pub later: Vec<Delivery>,
}

impl Default for Slots {
    fn default() -> Slots {
        Slots::new(PER_TARGET, IN_FLIGHT).with_shares(PER_TENANT, PER_TENANT_CALLBACKS, CALLBACKS)
    }
}

impl Slots {
    /// Slots with no share below the process's limit.
    pub fn new(per_target: usize, in_flight: usize) -> Slots {
        let in_flight = in_flight.max(1);
        Slots {
            per_target: per_target.max(1),
            in_flight,
            per_tenant: in_flight,
            per_tenant_callbacks: in_flight,
            callbacks: in_flight,
            taken: HashMap::new(),
            held: HashMap::new(),
            tenants: HashMap::new(),
            callbacks_held: 0,
        }
    }

    /// These slots with a tenant's share, its callbacks' share, and all callbacks' share.
    pub fn with_shares(
        self,
        per_tenant: usize,
        per_tenant_callbacks: usize,
        callbacks: usize,
    ) -> Slots {
        Slots {
            per_tenant: per_tenant.max(1),
            per_tenant_callbacks: per_tenant_callbacks.max(1),
            callbacks: callbacks.max(1),
            ..self
        }
    }

    /// Whether `d` may start now as far as its tenant's and the callbacks' shares go.
    fn within_shares(&self, d: &Delivery) -> bool {
        let (all, callbacks) = self.tenants.get(&d.tenant).copied().unwrap_or_default();
        let callback = d.channel == Channel::Callback;
        all < self.per_tenant
            && !(callback
                && (callbacks >= self.per_tenant_callbacks
                    || self.callbacks_held >= self.callbacks))
    }

    /// Attempts in flight.
    pub fn busy(&self) -> usize {
        self.taken.len()
    }

    /// Whether a slot of the process is free.
    pub fn free(&self) -> bool {
        self.taken.len() < self.in_flight
    }

    /// Takes slots for those of `due` (oldest first) that may start now: none already in flight,
    /// none to a target with its slots full; tenants in turn, so one with many due deliveries
    /// starts no more than the others while they have some.
    pub fn take(&mut self, due: Vec<Delivery>) -> Taken {
        let mut order: Vec<String> = Vec::new();
        let mut queues: HashMap<String, VecDeque<Delivery>> = HashMap::new();
        let mut seen = HashSet::new();
        for d in due {
            if self.taken.contains_key(&d.id) || !seen.insert(d.id.clone()) {
                continue;
            }
            if !queues.contains_key(&d.tenant) {
                order.push(d.tenant.clone());
            }
            queues.entry(d.tenant.clone()).or_default().push_back(d);
        }
        let mut taken = Taken::default();
        loop {
            let mut started = false;
            for tenant in &order {
                let queue = queues.get_mut(tenant).expect("a queue per tenant");
                while self.free() {
                    let Some(d) = queue.pop_front() else { break };
                    let target = target_of(&d);
                    if !self.within_shares(&d)
                        || self
                            .held
                            .get(&target)
                            .is_some_and(|n| *n >= self.per_target)
                    {
                        taken.waiting.push(d);
                        continue;
                    }
                    let callback = d.channel == Channel::Callback;
                    *self.held.entry(target.clone()).or_default() += 1;
                    let share = self.tenants.entry(d.tenant.clone()).or_default();
                    share.0 += 1;
                    if callback {
                        share.1 += 1;
                        self.callbacks_held += 1;
                    }
                    self.taken.insert(
                        d.id.clone(),
                        Holder {
                            target,
                            tenant: d.tenant.clone(),
                            callback,
                        },
                    );
                    taken.start.push(d);
                    started = true;
                    break;
                }
            }
            if !started || !self.free() {
                break;
            }
        }
        // What the process's limit left unstarted is not waiting on its target.
        for tenant in &order {
            taken
                .later
                .extend(queues.remove(tenant).into_iter().flatten());
        }
        taken
    }

    /// Frees the slots of the delivery `id` once its attempt is over (saved or abandoned).
    pub fn release(&mut self, id: &str) {
        let Some(h) = self.taken.remove(id) else {
            return;
        };
        if let Some(held) = self.held.get_mut(&h.target) {
            *held -= 1;
            if *held == 0 {
                self.held.remove(&h.target);
            }
        }
        if let Some(share) = self.tenants.get_mut(&h.tenant) {
            share.0 -= 1;
            if h.callback {
                share.1 -= 1;
            }
            if share.0 == 0 {
                self.tenants.remove(&h.tenant);
            }
        }
        if h.callback {
            self.callbacks_held -= 1;
        }
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
