//! Where a job stands: one enum for the live phase and the status a result reports.

use serde::{Deserialize, Serialize};

/// Where a job stands. A running job is `Training` or `Pricing`; a finished one ends
/// `Succeeded`, `Failed` or `Cancelled`, which is also the `status` of its [`crate::JobResult`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobPhase {
    Queued,
    Training,
    Pricing,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobPhase {
    /// Every phase, in the order a job passes through them (the last three are alternatives).
    pub const ALL: [JobPhase; 6] = [
        JobPhase::Queued,
        JobPhase::Training,
        JobPhase::Pricing,
        JobPhase::Succeeded,
        JobPhase::Failed,
        JobPhase::Cancelled,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(self, JobPhase::Succeeded | JobPhase::Failed | JobPhase::Cancelled)
    }

    /// The name people and the JSON result read: `training`, `succeeded`, ….
    pub fn name(self) -> &'static str {
        match self {
            JobPhase::Queued => "queued",
            JobPhase::Training => "training",
            JobPhase::Pricing => "pricing",
            JobPhase::Succeeded => "succeeded",
            JobPhase::Failed => "failed",
            JobPhase::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for JobPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::JobPhase;

    /// The JSON form is the contract (`"status": "succeeded"`); `name` and `Display` say the same.
    #[test]
    fn names_match_the_json_form() {
        for p in JobPhase::ALL {
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.name()));
            assert_eq!(p.to_string(), p.name());
            assert_eq!(serde_json::from_str::<JobPhase>(&format!("\"{p}\"")).unwrap(), p);
        }
        assert!(serde_json::from_str::<JobPhase>("\"running\"").is_err());
    }
}
