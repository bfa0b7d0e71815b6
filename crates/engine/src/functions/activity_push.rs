//! Push-dispatched activities: an activity tagged `switchyard:function` = FUNCTION has its tasks
//! handed to that function as soon as they are scheduled, as `{"taskToken": ..., "input": ...}`,
//! so no worker has to poll. The function reports with the token (SendTaskSuccess, through the
//! AWS SDK inside it, which reaches this server); what it returns is ignored, as for
//! `lambda:invoke.waitForTaskToken`. An invocation that fails fails the task with the function's
//! error (`errorType`, and the error document as cause).
//!
//! For each bound activity a pusher long-polls the activity like a worker would (its
//! GetActivityTask history events name the worker `switchyard:function:FUNCTION`), so tasks are
//! scheduled, started and withdrawn exactly as for any worker, and tasks left from before a
//! restart are pushed too. Bindings are read from the tags every second; a removed binding stops
//! its pusher after its current poll.

use super::{Functions, FunctionsError, MAX_EVENT_AGE, MAX_THROTTLE_BACKOFF};
use crate::catalog::Catalog;
use crate::runtime::{ActivityTask, Runtime};
use compute::{Cancellation, Outcome};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

/// The tag that binds an activity to the function its tasks are pushed to.
pub const FUNCTION_TAG: &str = "switchyard:function";
const RESCAN: Duration = Duration::from_secs(1);
/// Tasks of one activity running at once; more wait in the activity's queue.
const MAX_RUNNING_TASKS: usize = 64;

struct Pusher {
    function: String,
    stop: watch::Sender<bool>,
}

/// Starts pushing the tasks of every bound activity; runs until the runtime stops.
pub fn start(catalog: Arc<Catalog>, runtime: Arc<Runtime>, functions: Arc<Functions>) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut pushers: HashMap<String, Pusher> = HashMap::new();
        loop {
            let bindings = bindings(&catalog);
            pushers.retain(|activity, pusher| {
                let kept = bindings.get(activity) == Some(&pusher.function);
                if !kept {
                    let _ = pusher.stop.send(true);
                }
                kept
            });
            for (activity, function) in bindings {
                if pushers.contains_key(&activity) {
                    continue;
                }
                let (stop, stopped) = watch::channel(false);
                tokio::spawn(push(activity.clone(), function.clone(), runtime.clone(), functions.clone(), stopped));
                pushers.insert(activity, Pusher { function, stop });
            }
            tokio::time::sleep(RESCAN).await;
        }
    })
    .abort_handle()
}

/// Activity ARN -> the function its tasks go to.
fn bindings(catalog: &Catalog) -> HashMap<String, String> {
    catalog
        .list_activities()
        .into_iter()
        .filter_map(|activity| {
            let tags = catalog.tags(&activity.arn).ok()?;
            let function = tags.into_iter().find(|tag| tag.key == FUNCTION_TAG)?.value;
            Some((activity.arn, function))
        })
        .collect()
}

async fn push(activity: String, function: String, runtime: Arc<Runtime>, functions: Arc<Functions>, stopped: watch::Receiver<bool>) {
    let running = Arc::new(Semaphore::new(MAX_RUNNING_TASKS));
    let worker = format!("{FUNCTION_TAG}:{function}");
    tracing::info!(activity, function, "activity tasks are pushed to a function");
    while !*stopped.borrow() {
        let Ok(permit) = running.clone().acquire_owned().await else { break };
        // Not raced against the stop: a poll that ends with a task must hand it on.
        let task = match runtime.get_activity_task(&activity, Some(worker.clone())).await {
            Ok(Some(task)) => task,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(activity, %error, "activity poll failed; pushing stops");
                break;
            }
        };
        let (runtime, functions, function) = (runtime.clone(), functions.clone(), function.clone());
        tokio::spawn(async move {
            run_task(&runtime, functions, &function, task).await;
            drop(permit);
        });
    }
}

async fn run_task(runtime: &Runtime, functions: Arc<Functions>, function: &str, task: ActivityTask) {
    let input: Value = serde_json::from_str(&task.input).unwrap_or(Value::String(task.input.clone()));
    let event = json!({ "taskToken": task.task_token, "input": input });
    let accepted = Instant::now();
    let mut backoff = Duration::from_secs(1);
    let failure = loop {
        let (functions, function_name, event) = (functions.clone(), function.to_owned(), event.clone());
        let outcome = tokio::task::spawn_blocking(move || functions.invoke(&function_name, None, &event, &Cancellation::new())).await;
        match outcome {
            Ok(Ok(invocation)) => match invocation.outcome {
                Outcome::Returned(_) | Outcome::Cancelled => return,
                Outcome::Failed(error) => break (error.error_type, error.payload),
                Outcome::Unavailable(reason) => break ("Lambda.ServiceException".to_owned(), reason),
            },
            Ok(Err(FunctionsError::Throttled)) if accepted.elapsed() < MAX_EVENT_AGE => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_THROTTLE_BACKOFF);
            }
            Ok(Err(FunctionsError::Throttled)) => break ("Lambda.TooManyRequestsException".to_owned(), "Rate Exceeded.".to_owned()),
            Ok(Err(FunctionsError::NotFound(message))) => break ("Lambda.ResourceNotFoundException".to_owned(), message),
            Ok(Err(error)) => break ("Lambda.ServiceException".to_owned(), format!("{error:?}")),
            Err(error) => break ("Lambda.ServiceException".to_owned(), error.to_string()),
        }
    };
    let (error, cause) = failure;
    // The task may have closed meanwhile (timed out, reported by the function): nothing to tell.
    let _ = runtime.send_task_failure(&task.task_token, Some(error), Some(cause)).await;
}
