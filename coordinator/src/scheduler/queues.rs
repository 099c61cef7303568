//! The work queues: tasks waiting to run and tasks in flight, and the order in which
//! waiting tasks are handed out. Waiting tasks sit either in their job's queue (any node
//! may take them; jobs take turns) or pinned to one node (training batches whose paths
//! live there). It knows nothing of the nodes beyond their session ids; the scheduler
//! composes it with [`super::registry::Registry`].

use crate::protocol::{JobId, SessionId, TaskSpec};
use std::collections::{HashMap, VecDeque};

pub(super) struct Queues {
    /// Tasks any node may take, per job.
    global: HashMap<JobId, VecDeque<TaskSpec>>,
    /// Round-robin order of jobs for fair sharing.
    rotation: VecDeque<JobId>,
    /// Per attached node: training tasks whose batch lives there, waiting for a free slot.
    pinned: HashMap<SessionId, VecDeque<TaskSpec>>,
    /// Per attached node: tasks sent and not yet answered, by task id.
    in_flight: HashMap<SessionId, HashMap<u64, TaskSpec>>,
    next_task_id: u64,
}

impl Queues {
    pub fn new() -> Self {
        Queues {
            global: HashMap::new(),
            rotation: VecDeque::new(),
            pinned: HashMap::new(),
            in_flight: HashMap::new(),
            next_task_id: 1,
        }
    }

    /// A new job joins the end of the rotation.
    pub fn add_job(&mut self, id: JobId) {
        self.global.entry(id.clone()).or_default();
        self.rotation.push_back(id);
    }

    /// Drops every waiting task of `job`. Its tasks in flight stay until their nodes answer.
    pub fn remove_job(&mut self, job: &JobId) {
        self.global.remove(job);
        self.rotation.retain(|j| j != job);
        for q in self.pinned.values_mut() {
            q.retain(|t| &t.job.id != job);
        }
    }

    pub fn add_node(&mut self, s: SessionId) {
        self.pinned.insert(s, VecDeque::new());
        self.in_flight.insert(s, HashMap::new());
    }

    /// Removes a node's queues; returns its tasks, those in flight first in the order they
    /// were sent, then those pinned to it in queue order.
    pub fn remove_node(&mut self, s: SessionId) -> Vec<TaskSpec> {
        let mut running: Vec<(u64, TaskSpec)> = self.in_flight.remove(&s).unwrap_or_default().into_iter().collect();
        running.sort_by_key(|(id, _)| *id);
        let pinned = self.pinned.remove(&s).unwrap_or_default();
        running.into_iter().map(|(_, t)| t).chain(pinned).collect()
    }

    /// Queues a task on node `home` if it is given and attached, else on its job's queue.
    /// `front` puts it ahead of the others (work that was already under way).
    pub fn push(&mut self, t: TaskSpec, home: Option<SessionId>, front: bool) {
        let q = match home.and_then(|s| self.pinned.get_mut(&s)) {
            Some(q) => q,
            None => self.global.entry(t.job.id.clone()).or_default(),
        };
        if front {
            q.push_front(t);
        } else {
            q.push_back(t);
        }
    }

    /// The next task for node `s`: its own pinned work first, then the next job in turn.
    pub fn next_for(&mut self, s: SessionId) -> Option<TaskSpec> {
        if let Some(t) = self.pinned.get_mut(&s).and_then(VecDeque::pop_front) {
            return Some(t);
        }
        self.next_global()
    }

    fn next_global(&mut self) -> Option<TaskSpec> {
        for _ in 0..self.rotation.len() {
            let job = self.rotation.pop_front()?;
            let task = self.global.get_mut(&job).and_then(VecDeque::pop_front);
            self.rotation.push_back(job);
            if task.is_some() {
                return task;
            }
        }
        None
    }

    /// A fresh task id; ids grow in the order tasks are sent.
    pub fn next_task_id(&mut self) -> u64 {
        let id = self.next_task_id;
        self.next_task_id += 1;
        id
    }

    /// Records that task `task_id` was sent to node `s`.
    pub fn start(&mut self, s: SessionId, task_id: u64, t: TaskSpec) {
        self.in_flight.entry(s).or_default().insert(task_id, t);
    }

    /// The task node `s` answered, if it is one of its tasks in flight.
    pub fn finish(&mut self, s: SessionId, task_id: u64) -> Option<TaskSpec> {
        self.in_flight.get_mut(&s)?.remove(&task_id)
    }

    /// How many tasks node `s` has in flight.
    pub fn in_flight(&self, s: SessionId) -> usize {
        self.in_flight.get(&s).map_or(0, HashMap::len)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::Queues;
    use crate::protocol::{JobContext, TaskSpec, Work};
    use pathgrid_pricing::{ExercisePolicy, parse_spec};
    use std::sync::Arc;

    fn job(id: &str) -> Arc<JobContext> {
        let spec = parse_spec(
            r#"{ "name": "q", "seed": 1, "paths": 1000, "training_paths": 1000, "batch_size": 250,
            "instruments": [ { "id": "put",
              "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 },
              "payoff": { "type": "put", "strike": 40.0 },
              "exercise": { "style": "bermudan", "maturity": 1.0, "steps": 3 } } ] }"#,
        )
        .unwrap();
        let validated = spec.validate().unwrap();
        Arc::new(JobContext::new(id.into(), spec, validated))
    }

    fn task(job: &Arc<JobContext>, batch: u64) -> TaskSpec {
        let policy = Arc::new(ExercisePolicy { coefficients: Vec::new() });
        TaskSpec { job: job.clone(), instrument: 0, batch, work: Work::Price { policy }, full: false }
    }

    fn name(t: &TaskSpec) -> (String, u64) {
        (t.job.id.to_string(), t.batch)
    }

    #[test]
    fn jobs_take_turns_and_pinned_work_goes_first() {
        let (a, b) = (job("a"), job("b"));
        let mut q = Queues::new();
        q.add_job(a.id.clone());
        q.add_job(b.id.clone());
        q.add_node(1);
        q.add_node(2);
        for batch in 0..3 {
            q.push(task(&a, batch), None, false);
        }
        q.push(task(&b, 0), None, false);
        q.push(task(&b, 9), None, true);
        q.push(task(&a, 7), Some(2), false);
        // A home that is not attached falls back to the job's queue, at its end.
        q.push(task(&b, 8), Some(5), false);
        let order: Vec<(String, u64)> = std::iter::from_fn(|| q.next_for(1)).map(|t| name(&t)).collect();
        let expected = [("a", 0), ("b", 9), ("a", 1), ("b", 0), ("a", 2), ("b", 8)];
        assert_eq!(order, expected.map(|(j, b)| (j.to_string(), b)));
        // Only node 2 gets the task pinned to it.
        assert_eq!(q.next_for(2).map(|t| name(&t)), Some(("a".into(), 7)));
        assert!(q.next_for(2).is_none());
    }

    #[test]
    fn a_removed_node_returns_its_tasks_in_flight_in_send_order_then_its_pinned_ones() {
        let a = job("a");
        let mut q = Queues::new();
        q.add_job(a.id.clone());
        q.add_node(1);
        for batch in [5, 3, 4] {
            let id = q.next_task_id();
            q.start(1, id, task(&a, batch));
        }
        q.push(task(&a, 8), Some(1), false);
        assert_eq!(q.in_flight(1), 3);
        assert_eq!(q.finish(1, 2).map(|t| t.batch), Some(3));
        assert!(q.finish(1, 2).is_none(), "a task is answered once");
        let back: Vec<u64> = q.remove_node(1).iter().map(|t| t.batch).collect();
        assert_eq!(back, [5, 4, 8]);
        assert_eq!(q.in_flight(1), 0);
        // Its pinned queue is gone: work for it now goes to the job's queue.
        q.push(task(&a, 6), Some(1), false);
        assert_eq!(q.next_for(7).map(|t| t.batch), Some(6));
    }

    #[test]
    fn a_finished_job_leaves_no_waiting_work() {
        let (a, b) = (job("a"), job("b"));
        let mut q = Queues::new();
        q.add_job(a.id.clone());
        q.add_job(b.id.clone());
        q.add_node(1);
        q.push(task(&a, 0), None, false);
        q.push(task(&a, 1), Some(1), false);
        q.push(task(&b, 0), None, false);
        q.remove_job(&a.id);
        assert_eq!(q.next_for(1).map(|t| name(&t)), Some(("b".into(), 0)));
        assert!(q.next_for(1).is_none());
    }
}
