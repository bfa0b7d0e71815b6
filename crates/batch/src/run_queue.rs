//! The RUNNABLE jobs of one job queue in the order they should start. A FIFO queue starts them
//! by submission. A fair-share queue (AWS Batch's scheduling policy) first picks the share
//! identifier whose decayed usage, scaled by its weight factor, is lowest — a weight factor of
//! 0.125 gets 8 times the capacity of one of 1, as AWS defines it — then the share's job of the
//! highest scheduling priority, then the earliest submitted. `computeReservation` holds back part
//! of the queue's capacity for shares that are not active yet.
//!
//! Usage is charged when a job is placed: its vCPUs, decaying exponentially with the policy's
//! `shareDecaySeconds` (AWS charges vCPU time; a start charge lets shares backlogged at once
//! alternate from the first placement on, before any job has run for long).

use crate::model::{FairsharePolicy, ShareAttributes};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// AWS's window when `shareDecaySeconds` is 0 or absent.
const DEFAULT_SHARE_DECAY_SECONDS: u32 = 600;
const DEFAULT_WEIGHT_FACTOR: f64 = 1.0;

/// A RUNNABLE job as its queue orders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    /// Empty on a FIFO queue.
    pub share: String,
    /// The scheduling priority (0 on a FIFO queue, where it does not count).
    pub priority: i32,
    pub sequence: u64,
    pub job_id: String,
}

/// Order within one share: highest priority, then submission.
type ShareOrder = (Reverse<i32>, u64, String);

impl QueuedJob {
    fn order(&self) -> ShareOrder {
        (Reverse(self.priority), self.sequence, self.job_id.clone())
    }
}

/// A fair-share policy as the scheduler applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct FairShare {
    decay_ms: f64,
    /// computeReservation as a fraction (0.0 to 0.99).
    reservation: f64,
    weights: Vec<ShareAttributes>,
}

impl FairShare {
    pub fn new(policy: &FairsharePolicy) -> FairShare {
        let decay_seconds = policy.share_decay_seconds.filter(|seconds| *seconds > 0).unwrap_or(DEFAULT_SHARE_DECAY_SECONDS);
        FairShare {
            decay_ms: f64::from(decay_seconds) * 1000.0,
            reservation: f64::from(policy.compute_reservation.unwrap_or(0)) / 100.0,
            weights: policy.share_distribution.clone(),
        }
    }

    /// The weight factor of a share: its own entry, else a matching `prefix*` entry, else 1.
    pub fn weight_of(&self, share: &str) -> f64 {
        let exact = self.weights.iter().find(|entry| entry.share_identifier == share);
        let prefix = || self.weights.iter().find(|entry| entry.share_identifier.strip_suffix('*').is_some_and(|prefix| share.starts_with(prefix)));
        exact.or_else(prefix).and_then(|entry| entry.weight_factor).unwrap_or(DEFAULT_WEIGHT_FACTOR)
    }

    /// What the queue may have placed, in thousandths of a vCPU, with `active` shares active:
    /// AWS reserves `(computeReservation / 100) ^ active` of the maximum for the others.
    pub fn usable_millicpus(&self, capacity_millicpus: u64, active: usize) -> u64 {
        let reserved = self.reservation.powi(i32::try_from(active).unwrap_or(i32::MAX));
        (capacity_millicpus as f64 * (1.0 - reserved)).floor() as u64
    }

    fn decayed(&self, usage: f64, since: i64, now: i64) -> f64 {
        usage * (-((now - since).max(0) as f64) / self.decay_ms).exp()
    }
}

#[derive(Debug, Default)]
struct Share {
    jobs: BTreeSet<ShareOrder>,
    /// Decayed usage as of `usage_at`.
    usage: f64,
    usage_at: i64,
    /// Jobs placed and not yet released.
    placed: u32,
}

impl Share {
    fn is_active(&self) -> bool {
        !self.jobs.is_empty() || self.placed > 0
    }
}

#[derive(Debug, Default)]
pub struct RunQueue {
    shares: BTreeMap<String, Share>,
    /// vCPUs (thousandths) of the queue's jobs placed and not yet released.
    placed_millicpus: u64,
}

/// How far one pass has walked each share: jobs that could not be placed are passed over.
#[derive(Debug, Default)]
pub struct Walk {
    passed: HashMap<String, ShareOrder>,
}

impl Walk {
    pub fn pass(&mut self, job: &QueuedJob) {
        self.passed.insert(job.share.clone(), job.order());
    }
}

impl RunQueue {
    pub fn insert(&mut self, job: &QueuedJob) {
        self.shares.entry(job.share.clone()).or_default().jobs.insert(job.order());
    }

    pub fn remove(&mut self, job: &QueuedJob) {
        if let Some(share) = self.shares.get_mut(&job.share) {
            share.jobs.remove(&job.order());
        }
    }

    /// The next job to try in this pass: FIFO without a policy, fair share with one.
    pub fn next(&self, walk: &Walk, policy: Option<&FairShare>, now: i64) -> Option<QueuedJob> {
        let heads = self.shares.iter().filter_map(|(name, share)| {
            let head = match walk.passed.get(name) {
                None => share.jobs.first(),
                Some(passed) => share.jobs.range((std::ops::Bound::Excluded(passed), std::ops::Bound::Unbounded)).next(),
            }?;
            let weighted_usage = policy.map_or(0.0, |policy| policy.decayed(share.usage, share.usage_at, now) * policy.weight_of(name));
            Some((weighted_usage, name, head))
        });
        let (_, share, (Reverse(priority), sequence, job_id)) =
            heads.min_by(|a, b| a.0.total_cmp(&b.0).then(a.2 .1.cmp(&b.2 .1)))?;
        Some(QueuedJob { share: share.clone(), priority: *priority, sequence: *sequence, job_id: job_id.clone() })
    }

    /// The job left the queue for an instance: its share is charged its vCPUs.
    pub fn placed(&mut self, share: &str, millicpus: u32, policy: Option<&FairShare>, now: i64) {
        self.placed_millicpus += u64::from(millicpus);
        let share = self.shares.entry(share.to_owned()).or_default();
        share.placed += 1;
        if let Some(policy) = policy {
            share.usage = policy.decayed(share.usage, share.usage_at, now) + f64::from(millicpus) / 1000.0;
            share.usage_at = now;
        }
    }

    /// A job placed before a restart runs on: counted as placed, not charged again.
    pub fn restore_placed(&mut self, share: &str, millicpus: u32) {
        self.placed(share, millicpus, None, 0);
    }

    /// The job's attempt ended or it gave its place back.
    pub fn released(&mut self, share: &str, millicpus: u32) {
        self.placed_millicpus = self.placed_millicpus.saturating_sub(u64::from(millicpus));
        if let Some(share) = self.shares.get_mut(share) {
            share.placed = share.placed.saturating_sub(1);
        }
    }

    pub fn placed_millicpus(&self) -> u64 {
        self.placed_millicpus
    }

    /// Shares with jobs queued or placed.
    pub fn active_shares(&self) -> usize {
        self.shares.values().filter(|share| share.is_active()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(reservation: u32, weights: &[(&str, f64)]) -> FairShare {
        FairShare::new(&FairsharePolicy {
            share_decay_seconds: Some(3600),
            compute_reservation: Some(reservation),
            share_distribution: weights.iter().map(|(share, weight)| ShareAttributes { share_identifier: (*share).into(), weight_factor: Some(*weight) }).collect(),
        })
    }

    fn job(share: &str, priority: i32, sequence: u64) -> QueuedJob {
        QueuedJob { share: share.into(), priority, sequence, job_id: format!("{share}-{sequence}") }
    }

    /// Takes the next job and places it, `count` times: the shares in starting order.
    fn start(queue: &mut RunQueue, policy: Option<&FairShare>, count: usize) -> Vec<String> {
        (0..count)
            .filter_map(|step| {
                let next = queue.next(&Walk::default(), policy, step as i64)?;
                queue.remove(&next);
                queue.placed(&next.share, 1000, policy, step as i64);
                Some(next.job_id)
            })
            .collect()
    }

    #[test]
    fn weights_match_exactly_then_by_prefix_then_default_to_one() {
        let policy = policy(0, &[("team*", 0.5), ("team-b", 3.0)]);
        assert_eq!(policy.weight_of("team-b"), 3.0);
        assert_eq!(policy.weight_of("team-a"), 0.5);
        assert_eq!(policy.weight_of("other"), 1.0);
    }

    #[test]
    fn a_share_of_weight_3_starts_a_third_as_many_jobs_as_one_of_weight_1() {
        let policy = policy(0, &[("light", 1.0), ("heavy", 3.0)]);
        let mut queue = RunQueue::default();
        for sequence in 0..40 {
            queue.insert(&job(if sequence % 2 == 0 { "light" } else { "heavy" }, 0, sequence));
        }
        let started = start(&mut queue, Some(&policy), 20);
        let heavy = started.iter().filter(|id| id.starts_with("heavy")).count();
        assert_eq!((started.len() - heavy, heavy), (15, 5), "{started:?}");
    }

    #[test]
    fn within_a_share_priority_wins_then_submission_order() {
        let policy = policy(0, &[]);
        let mut queue = RunQueue::default();
        for (priority, sequence) in [(0, 1), (5, 2), (5, 3), (1, 4)] {
            queue.insert(&job("a", priority, sequence));
        }
        assert_eq!(start(&mut queue, Some(&policy), 4), ["a-2", "a-3", "a-4", "a-1"]);
    }

    #[test]
    fn without_a_policy_the_queue_is_fifo() {
        let mut queue = RunQueue::default();
        for sequence in [3, 1, 2] {
            queue.insert(&job("", 0, sequence));
        }
        assert_eq!(start(&mut queue, None, 3), ["-1", "-2", "-3"]);
    }

    #[test]
    fn usage_decays_so_a_share_that_ran_long_ago_is_not_held_back() {
        let policy = policy(0, &[]);
        let mut queue = RunQueue::default();
        queue.placed("old", 8000, Some(&policy), 0);
        queue.released("old", 8000);
        queue.placed("recent", 1000, Some(&policy), 10 * 3_600_000);
        queue.insert(&job("old", 0, 1));
        queue.insert(&job("recent", 0, 2));
        let next = queue.next(&Walk::default(), Some(&policy), 10 * 3_600_000);
        assert_eq!(next.map(|job| job.share), Some("old".to_owned()));
    }

    #[test]
    fn a_passed_job_makes_way_for_the_next_of_its_share() {
        let mut queue = RunQueue::default();
        queue.insert(&job("a", 0, 1));
        queue.insert(&job("a", 0, 2));
        let mut walk = Walk::default();
        let first = queue.next(&walk, None, 0);
        if let Some(first) = &first {
            walk.pass(first);
        }
        assert_eq!(queue.next(&walk, None, 0).map(|job| job.sequence), Some(2));
    }

    #[test]
    fn compute_reservation_shrinks_with_active_shares() {
        let policy = policy(50, &[]);
        assert_eq!(policy.usable_millicpus(8000, 1), 4000);
        assert_eq!(policy.usable_millicpus(8000, 2), 6000);
        assert_eq!(FairShare::new(&FairsharePolicy::default()).usable_millicpus(8000, 1), 8000);
    }
}
