//! Runs one execution in this process to its end: `switchyard run`, tests and benchmarks.

use crate::{TaskContext, TaskDispatcher, VirtualClock};
use compute::Cancellation;
use asl::context::ExecutionInfo;
use asl::definition::StateMachine;
use asl::interpreter::{ActionId, Command, Execution, Status};
use asl::Failure;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::mpsc;
use std::sync::Arc;

pub struct RunOptions {
    /// Multiplies every wait (Wait states, retry back-off, timeouts); 0 runs them instantly.
    pub time_scale: f64,
    pub seed: u64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { time_scale: 1.0, seed: 0 }
    }
}

type TaskOutcome = (ActionId, Result<Value, Failure>);

/// Runs the execution until it succeeds, fails, times out or is aborted. Tasks run on their own
/// threads, so Parallel branches and Map iterations overlap as they do on AWS.
pub fn run_to_completion(machine: Arc<StateMachine>, info: ExecutionInfo, dispatcher: Arc<dyn TaskDispatcher>, options: &RunOptions) -> Execution {
    let mut clock = VirtualClock::new(options.time_scale);
    let mut execution = Execution::start(machine, ExecutionInfo { start_time: clock.now(), ..info }, clock.now(), options.seed);
    let (outcomes, finished) = mpsc::channel::<TaskOutcome>();
    let mut timers: BinaryHeap<Reverse<(i64, ActionId)>> = BinaryHeap::new();
    let mut cancelled: HashSet<ActionId> = HashSet::new();
    let mut running: HashMap<ActionId, Cancellation> = HashMap::new();
    let mut tasks_in_flight = 0usize;
    let mut commands = execution.run(clock.now());
    loop {
        for command in commands.drain(..) {
            match command {
                Command::RunTask(request) => {
                    tasks_in_flight += 1;
                    let dispatcher = dispatcher.clone();
                    let outcomes = outcomes.clone();
                    let context = TaskContext { execution_arn: execution.info().execution_arn.clone(), cancellation: Cancellation::new() };
                    running.insert(request.action, context.cancellation.clone());
                    std::thread::spawn(move || {
                        let outcome = dispatcher.run(&request, &context);
                        // The receiver is gone only when the run is over; nothing is left to tell.
                        let _ = outcomes.send((request.action, outcome));
                    });
                }
                Command::StartTimer { action, at } => timers.push(Reverse((at, action))),
                Command::Cancel { action } => {
                    if let Some(cancellation) = running.remove(&action) {
                        cancellation.cancel();
                    }
                    cancelled.insert(action);
                }
            }
        }
        if *execution.status() != Status::Running {
            return execution;
        }
        while timers.peek().is_some_and(|Reverse((_, action))| cancelled.contains(action)) {
            timers.pop();
        }
        let next_timer = timers.peek().map(|Reverse(timer)| *timer);
        let received = match next_timer {
            // While a task runs, time passes at its real pace: a task's timeout is a race against
            // real work. Only an idle execution skips ahead (--time-scale).
            Some((at, _)) => finished.recv_timeout(clock.real_wait_until(at, tasks_in_flight == 0)).ok(),
            None if tasks_in_flight > 0 => finished.recv().ok(),
            None => {
                let stuck = Failure::new("States.Runtime", "The execution has nothing left to wait for.");
                execution.stop(Some(stuck.error), stuck.cause, clock.now());
                return execution;
            }
        };
        match received {
            Some((action, outcome)) => {
                tasks_in_flight -= 1;
                running.remove(&action);
                if !cancelled.contains(&action) {
                    match outcome {
                        Ok(output) => execution.task_succeeded(action, output, clock.now()),
                        Err(failure) => execution.task_failed(action, failure, clock.now()),
                    }
                }
            }
            None => {
                if let Some((at, action)) = next_timer {
                    timers.pop();
                    clock.arrive_at(at);
                    execution.timer_fired(action, clock.now());
                }
            }
        }
        commands = execution.run(clock.now());
    }
}
