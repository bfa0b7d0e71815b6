//! The threads of an execution by id. A finished branch or iteration is released: a distributed
//! Map over a million items must not keep a million threads. Ids are never reused, so a stale id
//! (an action or a queue entry left over from a released thread) finds nothing rather than
//! another thread.

use super::{Thread, ThreadId};
use std::ops::{Index, IndexMut};

#[derive(Default)]
pub(super) struct Threads {
    /// Boxed so that a released slot costs a pointer's width.
    slots: Vec<Option<Box<Thread>>>,
}

impl Threads {
    pub(super) fn push(&mut self, thread: Thread) -> ThreadId {
        self.slots.push(Some(Box::new(thread)));
        self.slots.len() - 1
    }

    /// The id the next thread gets.
    pub(super) fn next_id(&self) -> ThreadId {
        self.slots.len()
    }

    pub(super) fn contains(&self, id: ThreadId) -> bool {
        self.slots.get(id).is_some_and(Option::is_some)
    }

    pub(super) fn release(&mut self, id: ThreadId) {
        if let Some(slot) = self.slots.get_mut(id) {
            *slot = None;
        }
    }
}

impl Index<ThreadId> for Threads {
    type Output = Thread;

    /// Callers hold ids of live threads: a released one is checked for where ids arrive from
    /// outside the thread tree (actions, the ready queue).
    fn index(&self, id: ThreadId) -> &Thread {
        self.slots[id].as_deref().expect("a released thread is not used")
    }
}

impl IndexMut<ThreadId> for Threads {
    fn index_mut(&mut self, id: ThreadId) -> &mut Thread {
        self.slots[id].as_deref_mut().expect("a released thread is not used")
    }
}
