//! Which due deliveries start now. Each delivery holds one slot while it is attempted: a slot of
//! its target (at most [`PER_TARGET`] at once) and one of the process ([`IN_FLIGHT`] at once), so a
//! receiver that never answers holds its own slots only, never the queue. Tenants take turns
//! (one start each per round, oldest first within a tenant), and a target with its slots full is
//! passed over, so neither a busy tenant nor a crowded target keeps the others waiting.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Channel, Delivery};

/// Attempts in flight at once to one target (a URL's scheme, host and port; a mail domain).
pub const PER_TARGET: usize = 2;
/// Attempts in flight at once in one process (the local server, one notify invocation).
pub const IN_FLIGHT: usize = 32;

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
    }
}

/// The slots held by attempts in flight.
#[derive(Debug)]
pub struct Slots {
    per_target: usize,
    in_flight: usize,
    /// Delivery id to its target, while it is attempted: never taken twice at once.
    taken: HashMap<String, String>,
    held: HashMap<String, usize>,
}

/// What [`Slots::take`] made of the due deliveries.
#[derive(Debug, Default)]
pub struct Taken {
    /// Started now: each holds its slots until [`Slots::release`].
    pub start: Vec<Delivery>,
    /// Not started because their target's slots are full.
    pub waiting: Vec<Delivery>,
    /// Not started because the process's slots are full.
    pub later: Vec<Delivery>,
}

impl Default for Slots {
    fn default() -> Slots {
        Slots::new(PER_TARGET, IN_FLIGHT)
    }
}

impl Slots {
    pub fn new(per_target: usize, in_flight: usize) -> Slots {
        Slots {
            per_target: per_target.max(1),
            in_flight: in_flight.max(1),
            taken: HashMap::new(),
            held: HashMap::new(),
        }
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
                    let held = self.held.entry(target.clone()).or_default();
                    if *held >= self.per_target {
                        taken.waiting.push(d);
                        continue;
                    }
                    *held += 1;
                    self.taken.insert(d.id.clone(), target);
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
        if let Some(target) = self.taken.remove(id)
            && let Some(held) = self.held.get_mut(&target)
        {
            *held -= 1;
            if *held == 0 {
                self.held.remove(&target);
            }
        }
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
