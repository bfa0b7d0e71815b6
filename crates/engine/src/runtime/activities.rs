//! Activity tasks waiting for workers, and workers long-polling for them.

use asl::interpreter::ActionId;
use base64::Engine as _;
use std::collections::{HashMap, VecDeque};
use tokio::sync::oneshot;

/// What GetActivityTask hands a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityTask {
    pub task_token: String,
    pub input: String,
}

#[derive(Debug, Clone)]
pub struct QueuedTask {
    pub token: String,
    pub input: String,
    pub execution_arn: String,
    pub action: ActionId,
}

#[derive(Default)]
pub struct ActivityQueues {
    tasks: HashMap<String, VecDeque<QueuedTask>>,
    pollers: HashMap<String, VecDeque<oneshot::Sender<QueuedTask>>>,
}

impl ActivityQueues {
    pub fn take(&mut self, activity_arn: &str) -> Option<QueuedTask> {
        self.tasks.get_mut(activity_arn)?.pop_front()
    }

    pub fn wait(&mut self, activity_arn: &str) -> oneshot::Receiver<QueuedTask> {
        let (sender, receiver) = oneshot::channel();
        self.pollers.entry(activity_arn.to_owned()).or_default().push_back(sender);
        receiver
    }

    /// A new task goes to the longest-waiting worker still polling, else joins the queue.
    pub fn offer(&mut self, activity_arn: &str, mut task: QueuedTask) {
        if let Some(pollers) = self.pollers.get_mut(activity_arn) {
            while let Some(poller) = pollers.pop_front() {
                match poller.send(task) {
                    Ok(()) => return,
                    // That worker gave up waiting: try the next.
                    Err(returned) => task = returned,
                }
            }
        }
        self.tasks.entry(activity_arn.to_owned()).or_default().push_back(task);
    }

    /// The task's action closed (timeout, abort) before a worker took it.
    pub fn withdraw(&mut self, execution_arn: &str, action: ActionId) {
        for queue in self.tasks.values_mut() {
            queue.retain(|task| task.execution_arn != execution_arn || task.action != action);
        }
    }

    pub fn queued(&self) -> usize {
        self.tasks.values().map(VecDeque::len).sum()
    }

    pub fn forget(&mut self, execution_arn: &str) {
        for queue in self.tasks.values_mut() {
            queue.retain(|task| task.execution_arn != execution_arn);
        }
    }
}

/// Whether text has the form of a task token this service issues (see the interpreter's
/// `task_token`): base64url of `EXECUTION_ARN#EVENT#NONCE`.
pub fn is_token(text: &str) -> bool {
    let Ok(decoded) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text) else { return false };
    let Ok(decoded) = String::from_utf8(decoded) else { return false };
    let mut parts = decoded.rsplitn(3, '#');
    let (Some(nonce), Some(event), Some(arn)) = (parts.next(), parts.next(), parts.next()) else { return false };
    nonce.len() == 40 && nonce.bytes().all(|byte| byte.is_ascii_hexdigit()) && event.parse::<u64>().is_ok() && arn.starts_with("arn:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(action: ActionId) -> QueuedTask {
        QueuedTask { token: format!("t{action}"), input: "{}".into(), execution_arn: "e".into(), action }
    }

    #[test]
    fn a_waiting_worker_gets_the_next_task() {
        let mut queues = ActivityQueues::default();
        let mut waiting = queues.wait("a");
        queues.offer("a", task(1));
        assert_eq!(waiting.try_recv().unwrap().action, 1);
        assert!(queues.take("a").is_none());
    }

    #[test]
    fn tasks_queue_until_taken_or_withdrawn() {
        let mut queues = ActivityQueues::default();
        drop(queues.wait("a"));
        queues.offer("a", task(1));
        queues.offer("a", task(2));
        queues.withdraw("e", 1);
        assert_eq!(queues.take("a").unwrap().action, 2);
        assert!(queues.take("a").is_none());
    }

    #[test]
    fn tokens_are_recognised_by_form() {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("arn:aws:states:x#4#{}", "a".repeat(40)));
        assert!(is_token(&token));
        assert!(!is_token("not-a-task-token"));
        assert!(!is_token(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("arn:x#4#zz")));
    }
}
