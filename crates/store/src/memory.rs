//! A store in memory: nothing survives the process. For tests, and for runs that keep nothing.

use crate::{Acknowledge, Document, ExecutionPosition, ExecutionRecord, Store, StoreError, Write};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

#[derive(Default)]
struct Data {
    documents: BTreeMap<(String, String), String>,
    executions: BTreeMap<String, ExecutionRecord>,
    /// When each execution was first stored: ties of start time go by it.
    sequences: BTreeMap<String, i64>,
    next_sequence: i64,
    history: BTreeMap<String, Vec<String>>,
    inputs: BTreeMap<String, Vec<String>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Data {
    fn apply(&mut self, write: Write) -> Result<(), StoreError> {
        match write {
            Write::PutDocument(document) => {
                self.documents.insert((document.kind, document.key), document.body);
            }
            Write::DeleteDocument { kind, key } => {
                self.documents.remove(&(kind, key));
            }
            Write::PutExecution(record) => {
                if !self.sequences.contains_key(&record.arn) {
                    self.sequences.insert(record.arn.clone(), self.next_sequence);
                    self.next_sequence += 1;
                }
                self.executions.insert(record.arn.clone(), record);
            }
            Write::AppendHistory { execution_arn, first_event_id, events } => {
                let stored = self.history.entry(execution_arn.clone()).or_default();
                if stored.len() as u64 + 1 != first_event_id {
                    return Err(StoreError(format!("history of {execution_arn} appended at {first_event_id} after {} events", stored.len())));
                }
                stored.extend(events);
            }
            Write::AppendInput { execution_arn, sequence, input } => {
                let stored = self.inputs.entry(execution_arn.clone()).or_default();
                if stored.len() as u64 != sequence {
                    return Err(StoreError(format!("input log of {execution_arn} appended at {sequence} after {} inputs", stored.len())));
                }
                stored.push(input);
            }
            Write::DeleteExecution { arn } => {
                self.executions.remove(&arn);
                self.sequences.remove(&arn);
                self.history.remove(&arn);
                self.inputs.remove(&arn);
            }
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    fn submit(&self, writes: Vec<Write>, done: Acknowledge) {
        let outcome = {
            let mut data = self.data();
            writes.into_iter().try_for_each(|write| data.apply(write))
        };
        done(outcome);
    }

    fn documents(&self, kind: &str) -> Result<Vec<Document>, StoreError> {
        let data = self.data();
        let of_kind = data.documents.iter().filter(|((stored, _), _)| stored == kind);
        Ok(of_kind.map(|((kind, key), body)| Document { kind: kind.clone(), key: key.clone(), body: body.clone() }).collect())
    }

    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        Ok(self.data().executions.get(arn).cloned())
    }

    fn executions(&self, state_machine_arn: Option<&str>, status: Option<&str>) -> Result<Vec<ExecutionRecord>, StoreError> {
        let data = self.data();
        let mut records: Vec<ExecutionRecord> = data
            .executions
            .values()
            .filter(|r| state_machine_arn.is_none_or(|arn| r.state_machine_arn == arn) && status.is_none_or(|s| r.status == s))
            .cloned()
            .collect();
        records.sort_by_key(|record| std::cmp::Reverse(record.start_ms));
        Ok(records)
    }

    fn executions_after(&self, state_machine_arn: &str, after: Option<ExecutionPosition>, limit: usize) -> Result<Vec<(ExecutionPosition, ExecutionRecord)>, StoreError> {
        let data = self.data();
        let mut page: Vec<(ExecutionPosition, ExecutionRecord)> = data
            .executions
            .values()
            .filter(|record| record.state_machine_arn == state_machine_arn)
            .map(|record| (ExecutionPosition { start_ms: record.start_ms, sequence: data.sequences.get(&record.arn).copied().unwrap_or_default() }, record.clone()))
            .filter(|(position, _)| after.is_none_or(|after| *position > after))
            .collect();
        page.sort_by_key(|(position, _)| *position);
        page.truncate(limit);
        Ok(page)
    }

    fn open_executions(&self) -> Result<Vec<(ExecutionRecord, Vec<String>)>, StoreError> {
        let data = self.data();
        let running = data.executions.values().filter(|r| r.status == "RUNNING");
        Ok(running.map(|r| (r.clone(), data.inputs.get(&r.arn).cloned().unwrap_or_default())).collect())
    }

    fn inputs(&self, execution_arn: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.data().inputs.get(execution_arn).cloned().unwrap_or_default())
    }

    fn history(&self, execution_arn: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.data().history.get(execution_arn).cloned().unwrap_or_default())
    }

    fn closed_before(&self, before_ms: i64) -> Result<Vec<String>, StoreError> {
        let data = self.data();
        Ok(data.executions.values().filter(|r| r.stop_ms.is_some_and(|stop| stop < before_ms)).map(|r| r.arn.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_must_continue_where_it_stopped() {
        let store = MemoryStore::new();
        let append = |first_event_id| Write::AppendHistory { execution_arn: "e".into(), first_event_id, events: vec!["{}".into()] };
        let (sender, receiver) = std::sync::mpsc::channel();
        let acknowledge = |sender: std::sync::mpsc::Sender<_>| -> Acknowledge { Box::new(move |result| sender.send(result).unwrap()) };
        store.submit(vec![append(1)], acknowledge(sender.clone()));
        store.submit(vec![append(3)], acknowledge(sender));
        assert!(receiver.recv().unwrap().is_ok());
        assert!(receiver.recv().unwrap().is_err());
        assert_eq!(store.history("e").unwrap().len(), 1);
    }
}
