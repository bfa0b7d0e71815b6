//! Waiting for a batch to become durable. `Store::submit` only calls back (so the engine can keep
//! many batches in flight); most writers instead want to wait, from async code or from a
//! blocking thread.

use crate::{Store, StoreError, Write};

fn stopped() -> StoreError {
    StoreError("the store dropped a batch without answering".to_owned())
}

/// Makes `writes` durable and atomic; returns once the store has them.
pub async fn commit(store: &dyn Store, writes: Vec<Write>) -> Result<(), StoreError> {
    let (acknowledge, acknowledged) = futures_channel::oneshot::channel();
    // The waiter may have gone (its request was dropped); the batch is made durable all the same.
    store.submit(writes, Box::new(move |outcome| drop(acknowledge.send(outcome))));
    acknowledged.await.map_err(|_| stopped())?
}

/// [`commit`] for a thread that may block (never a tokio worker).
pub fn commit_blocking(store: &dyn Store, writes: Vec<Write>) -> Result<(), StoreError> {
    let (acknowledge, acknowledged) = std::sync::mpsc::sync_channel(1);
    store.submit(writes, Box::new(move |outcome| drop(acknowledge.send(outcome))));
    acknowledged.recv().map_err(|_| stopped())?
}
