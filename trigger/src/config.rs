//! Configuration from environment variables (see README.md).

use crate::Error;
use std::time::Duration;

/// What the trigger does with a job, and where large jobs go.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerConfig {
    /// `PATHGRID_JOB_QUEUE`: Batch job queue for large jobs (name or ARN).
    pub job_queue: Option<String>,
    /// `PATHGRID_JOB_DEFINITION`: Batch multi-node job definition (name, name:revision or ARN).
    pub job_definition: Option<String>,
    /// `PATHGRID_INLINE_MAX_PATH_STEPS`: jobs up to this many path-steps are priced inline.
    pub inline_max_path_steps: u64,
    /// `PATHGRID_INLINE_PATH_STEPS_PER_SEC`: inline pricing speed assumed when checking that
    /// a job fits the remaining Lambda time (with half of it as margin).
    pub inline_path_steps_per_sec: u64,
    /// `PATHGRID_MAX_INPUT_BYTES`: larger input objects are rejected unread.
    pub max_input_bytes: u64,
    /// `PATHGRID_PATH_STEPS_PER_NODE`: Batch nodes = ceil(path-steps / this), at least 1.
    pub path_steps_per_node: u64,
    /// `PATHGRID_MAX_NODES`: upper bound on the nodes of one Batch job.
    pub max_nodes: u32,
    /// `PATHGRID_MARKER_STALE_SECS`: a `pending` marker older than this was left by a delivery
    /// that died before `SubmitJob` returned; the next delivery asks Batch and submits if needed.
    pub marker_stale_after: Duration,
    /// Fault injection for tests; never set from the environment.
    pub fault: Option<Fault>,
}

/// Faults a test can inject into the handler, standing for a Lambda that dies at that point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fail right after writing the `pending` marker, before `SubmitJob`.
    AfterPendingMarker,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        TriggerConfig {
            job_queue: None,
            job_definition: None,
            inline_max_path_steps: 2_000_000_000,
            inline_path_steps_per_sec: 50_000_000,
            max_input_bytes: 16 * 1024 * 1024,
            path_steps_per_node: 20_000_000_000,
            max_nodes: 16,
            marker_stale_after: Duration::from_secs(60),
            fault: None,
        }
    }
}

impl TriggerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (unset or empty means the default).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let number = |name: &str, default: u64, min: u64| -> Result<u64, Error> {
            match get(name) {
                None => Ok(default),
                Some(v) => match v.replace('_', "").parse::<u64>() {
                    Ok(n) if n >= min => Ok(n),
                    _ => Err(Error::Config(format!("{name}={v:?}: expected a whole number of at least {min}"))),
                },
            }
        };
        let d = TriggerConfig::default();
        let max_nodes = number("PATHGRID_MAX_NODES", u64::from(d.max_nodes), 1)?;
        Ok(TriggerConfig {
            job_queue: get("PATHGRID_JOB_QUEUE"),
            job_definition: get("PATHGRID_JOB_DEFINITION"),
            inline_max_path_steps: number("PATHGRID_INLINE_MAX_PATH_STEPS", d.inline_max_path_steps, 0)?,
            inline_path_steps_per_sec: number("PATHGRID_INLINE_PATH_STEPS_PER_SEC", d.inline_path_steps_per_sec, 1)?,
            max_input_bytes: number("PATHGRID_MAX_INPUT_BYTES", d.max_input_bytes, 1)?,
            path_steps_per_node: number("PATHGRID_PATH_STEPS_PER_NODE", d.path_steps_per_node, 1)?,
            max_nodes: u32::try_from(max_nodes)
                .map_err(|_| Error::Config(format!("PATHGRID_MAX_NODES={max_nodes}: too large")))?,
            marker_stale_after: Duration::from_secs(number(
                "PATHGRID_MARKER_STALE_SECS",
                d.marker_stale_after.as_secs(),
                0,
            )?),
            fault: None,
        })
    }

    /// True when a job of `path_steps` is priced inline given the time left (if known).
    pub fn fits_inline(&self, path_steps: u64, remaining: Option<Duration>) -> bool {
        if path_steps > self.inline_max_path_steps {
            return false;
        }
        match remaining {
            None => true,
            Some(left) => {
                let needed = path_steps as f64 / self.inline_path_steps_per_sec.max(1) as f64;
                needed <= left.as_secs_f64() / 2.0
            }
        }
    }

    /// Batch nodes for a job: `ceil(path_steps / path_steps_per_node)` in `1..=max_nodes`.
    pub fn nodes_for(&self, path_steps: u64) -> u32 {
        let n = path_steps.div_ceil(self.path_steps_per_node.max(1)).max(1);
        u32::try_from(n).unwrap_or(u32::MAX).min(self.max_nodes.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_variables_and_rejects_garbage() {
        let env: HashMap<&str, &str> = [
            ("PATHGRID_JOB_QUEUE", "q"),
            ("PATHGRID_JOB_DEFINITION", "d:3"),
            ("PATHGRID_INLINE_MAX_PATH_STEPS", "1_000"),
            ("PATHGRID_MAX_NODES", "4"),
        ]
        .into();
        let c = TriggerConfig::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.job_queue.as_deref(), Some("q"));
        assert_eq!(c.job_definition.as_deref(), Some("d:3"));
        assert_eq!(c.inline_max_path_steps, 1000);
        assert_eq!(c.max_nodes, 4);
        assert_eq!(c.max_input_bytes, TriggerConfig::default().max_input_bytes);
        assert_eq!(c.marker_stale_after, Duration::from_secs(60));
        let quick = TriggerConfig::from_lookup(|k| (k == "PATHGRID_MARKER_STALE_SECS").then(|| "5".to_string()));
        assert_eq!(quick.unwrap().marker_stale_after, Duration::from_secs(5));
        let bad = TriggerConfig::from_lookup(|k| (k == "PATHGRID_MAX_NODES").then(|| "0".to_string()));
        assert!(matches!(bad, Err(Error::Config(m)) if m.contains("PATHGRID_MAX_NODES")));
    }

    #[test]
    fn sizes_nodes_and_inline_decision() {
        let c =
            TriggerConfig { path_steps_per_node: 100, max_nodes: 5, inline_max_path_steps: 1000, ..Default::default() };
        assert_eq!(c.nodes_for(0), 1);
        assert_eq!(c.nodes_for(100), 1);
        assert_eq!(c.nodes_for(101), 2);
        assert_eq!(c.nodes_for(10_000), 5);
        assert!(c.fits_inline(1000, None));
        assert!(!c.fits_inline(1001, None));
        let slow = TriggerConfig { inline_path_steps_per_sec: 100, ..c };
        assert!(slow.fits_inline(1000, Some(Duration::from_secs(20))));
        assert!(!slow.fits_inline(1000, Some(Duration::from_secs(19))));
    }
}
