//! How many of a job's options are finished: what progress reports as "instruments done".
//!
//! An option the user asked for runs as one to three legs (`pricing::plan`) and is done when
//! all of them are. The count is kept incrementally, one step per finished leg, so that a
//! book of 100k options does not rescan its legs on every progress event.

use pathgrid_pricing::Job;

#[derive(Debug, Clone)]
pub(crate) struct OptionsDone {
    /// Per option: legs not finished yet.
    left: Vec<u32>,
    /// Per leg: its option.
    option_of: Vec<usize>,
    done: u64,
}

impl OptionsDone {
    /// The count for `job` when the legs `leg_done` says are finished (a restored job).
    pub(crate) fn new(job: &Job, leg_done: impl Fn(usize) -> bool) -> Self {
        let mut left = vec![0u32; job.outputs.len()];
        let mut option_of = vec![0usize; job.instruments.len()];
        for (o, output) in job.outputs.iter().enumerate() {
            for leg in [Some(output.main), output.coarse, output.half].into_iter().flatten() {
                if let Some(slot) = option_of.get_mut(leg) {
                    *slot = o;
                    left[o] += 1;
                }
            }
        }
        let mut count = OptionsDone { left, option_of, done: 0 };
        for leg in 0..job.instruments.len() {
            if leg_done(leg) {
                count.leg_finished(leg);
            }
        }
        count
    }

    /// Leg `leg` finished (call once per leg).
    pub(crate) fn leg_finished(&mut self, leg: usize) {
        let Some(&o) = self.option_of.get(leg) else { return };
        if let Some(left) = self.left.get_mut(o)
            && *left > 0
        {
            *left -= 1;
            if *left == 0 {
                self.done += 1;
            }
        }
    }

    pub(crate) fn done(&self) -> u64 {
        self.done
    }

    pub(crate) fn total(&self) -> u64 {
        self.left.len() as u64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::OptionsDone;

    /// An American option runs as several legs and counts once, when its last leg is done.
    #[test]
    fn an_option_is_done_when_all_its_legs_are() {
        let job = pathgrid_pricing::parse_job(
            r#"{ "name": "c", "paths": 1000, "instruments": [
              { "id": "am", "model": { "type": "gbm", "spot": 36, "vol": 0.2, "rate": 0.06 },
                "payoff": { "type": "put", "strike": 40 }, "exercise": { "style": "american", "maturity": 1 } },
              { "id": "eu", "model": { "type": "gbm", "spot": 36, "vol": 0.2, "rate": 0.06 },
                "payoff": { "type": "put", "strike": 40 }, "exercise": { "style": "european", "maturity": 1 } } ] }"#,
        )
        .unwrap();
        let legs = job.instruments.len();
        assert!(legs > 2, "the American option should run as several legs");
        let mut count = OptionsDone::new(&job, |_| false);
        assert_eq!((count.done(), count.total()), (0, 2));
        let am = &job.outputs[0];
        let am_legs: Vec<usize> = [Some(am.main), am.coarse, am.half].into_iter().flatten().collect();
        for (n, &leg) in am_legs.iter().enumerate() {
            assert_eq!(count.done(), 0, "done after {n} of {} legs", am_legs.len());
            count.leg_finished(leg);
        }
        assert_eq!(count.done(), 1);
        let restored = OptionsDone::new(&job, |leg| leg != job.outputs[1].main);
        assert_eq!(restored.done(), 1);
        let all = OptionsDone::new(&job, |_| true);
        assert_eq!(all.done(), 2);
    }
}
