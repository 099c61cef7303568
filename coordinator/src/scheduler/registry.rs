//! The node registry: which nodes are attached, how many tasks each may hold, when each
//! was last heard from, and what each holds (job definitions, exercise policies, the
//! training batches it owns). It knows nothing of queued work; the scheduler composes it
//! with [`super::queues::Queues`].

use super::{NodeInfo, NodeLoad};
use crate::protocol::{JobId, NodeLink, SessionId, TaskSpec, ToNode};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// A training batch: (job, instrument, batch). Its paths live on the node that last ran it.
pub(super) type BatchKey = (JobId, u32, u64);

/// The batch a task works on.
pub(super) fn batch_key(t: &TaskSpec) -> BatchKey {
    (t.job.id.clone(), t.instrument, t.batch)
}

/// One attached node.
pub(super) struct Node {
    pub name: String,
    /// Tasks in flight at most: announced slots × pipeline depth.
    pub slots: usize,
    pub version: String,
    pub link: Box<dyn NodeLink>,
    pub last_seen: Instant,
    /// Jobs whose definition the node has been sent.
    pub defined: HashSet<JobId>,
    /// (job, instrument) pairs whose exercise policy the node has been sent.
    pub policies: HashSet<(JobId, u32)>,
    pub tasks_done: u64,
    pub load: NodeLoad,
}

pub(super) struct Registry {
    /// Tasks a node may have in flight per announced slot.
    depth: usize,
    /// Ordered by session so that every pass over the nodes visits them in the same order.
    nodes: BTreeMap<SessionId, Node>,
    /// Nodes that may have a free slot; the dispatcher drops those it finds full.
    free: BTreeSet<SessionId>,
    /// Which session holds each training batch. Entries of lost sessions stay until the job
    /// ends: session ids are never reused, so they only ever fail the liveness check.
    owners: HashMap<BatchKey, SessionId>,
}

impl Registry {
    pub fn new(depth: usize) -> Self {
        Registry { depth, nodes: BTreeMap::new(), free: BTreeSet::new(), owners: HashMap::new() }
    }

    /// Sessions of the node called `name` (a reconnecting node replaces them).
    pub fn sessions_named(&self, name: &str) -> Vec<SessionId> {
        self.nodes.iter().filter(|(_, n)| n.name == name).map(|(&s, _)| s).collect()
    }

    /// Registers a node with `slots` computing slots; it starts with every slot free.
    pub fn insert(&mut self, session: SessionId, name: String, slots: u32, version: String, link: Box<dyn NodeLink>) {
        let slots = (slots as usize).max(1).saturating_mul(self.depth);
        let node = Node {
            name,
            slots,
            version,
            link,
            last_seen: Instant::now(),
            defined: HashSet::new(),
            policies: HashSet::new(),
            tasks_done: 0,
            load: NodeLoad::default(),
        };
        self.nodes.insert(session, node);
        self.free.insert(session);
    }

    /// Unregisters a node; dropping the returned entry closes its link.
    pub fn remove(&mut self, s: SessionId) -> Option<Node> {
        let n = self.nodes.remove(&s)?;
        self.free.remove(&s);
        Some(n)
    }

    /// Drops every node, which ends their sessions.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.free.clear();
    }

    pub fn contains(&self, s: SessionId) -> bool {
        self.nodes.contains_key(&s)
    }

    pub fn get_mut(&mut self, s: SessionId) -> Option<&mut Node> {
        self.nodes.get_mut(&s)
    }

    pub fn heartbeat(&mut self, s: SessionId, load: NodeLoad) {
        if let Some(n) = self.nodes.get_mut(&s) {
            n.last_seen = Instant::now();
            n.load = load;
        }
    }

    /// The node answered: it is alive, whatever its heartbeats say.
    pub fn touch(&mut self, s: SessionId) {
        if let Some(n) = self.nodes.get_mut(&s) {
            n.last_seen = Instant::now();
        }
    }

    /// Nodes not heard from for longer than `timeout`.
    pub fn late(&self, timeout: Duration) -> Vec<SessionId> {
        let now = Instant::now();
        self.nodes
            .iter()
            .filter(|(_, n)| now.saturating_duration_since(n.last_seen) > timeout)
            .map(|(&s, _)| s)
            .collect()
    }

    /// The public view; `running(s)` is the number of tasks node `s` has in flight.
    pub fn list(&self, running: impl Fn(SessionId) -> usize) -> Vec<NodeInfo> {
        let now = Instant::now();
        self.nodes
            .iter()
            .map(|(&session, n)| NodeInfo {
                session,
                name: n.name.clone(),
                slots: (n.slots / self.depth) as u32,
                running: running(session) as u32,
                version: n.version.clone(),
                since_heartbeat: now.saturating_duration_since(n.last_seen),
                tasks_done: n.tasks_done,
                load: n.load,
            })
            .collect()
    }

    /// Nodes that may have a free slot, in session order.
    pub fn free(&self) -> Vec<SessionId> {
        self.free.iter().copied().collect()
    }

    pub fn mark_free(&mut self, s: SessionId) {
        self.free.insert(s);
    }

    pub fn mark_full(&mut self, s: SessionId) {
        self.free.remove(&s);
    }

    /// The session that last ran this training batch, alive or not.
    pub fn owner(&self, key: &BatchKey) -> Option<SessionId> {
        self.owners.get(key).copied()
    }

    /// The attached node holding this training batch, if any.
    pub fn live_owner(&self, key: &BatchKey) -> Option<SessionId> {
        self.owner(key).filter(|s| self.nodes.contains_key(s))
    }

    pub fn set_owner(&mut self, key: BatchKey, s: SessionId) {
        self.owners.insert(key, s);
    }

    /// Forgets everything nodes hold of `job` and tells each node that had its definition
    /// to drop it; returns the nodes that could not be told (their links are gone).
    pub fn forget_job(&mut self, job: &JobId) -> Vec<SessionId> {
        self.owners.retain(|(j, _, _), _| j != job);
        let mut unreachable = Vec::new();
        for (&s, n) in self.nodes.iter_mut() {
            n.policies.retain(|(j, _)| j != job);
            if n.defined.remove(job) && n.link.send(ToNode::Forget(job.clone())).is_err() {
                unreachable.push(s);
            }
        }
        unreachable
    }
}
