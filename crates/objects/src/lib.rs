//! The embedded S3-compatible object store.
//!
//! Buckets and objects live under `<data-dir>/objects/`: a bucket is a directory, an object one
//! file named by the SHA-256 of its key (keys are arbitrary UTF-8 up to 1 KiB, file names are not)
//! holding the bytes and, at the end, the metadata (see `disk`). A large write goes to a temporary
//! file, is fsynced and renamed into place, and the directory is fsynced. A small one (up to
//! 128 KiB) is appended to the journal instead, with one data sync (see `journal`), and copied to
//! its own file when its journal segment is full. Either way an acknowledged PUT survives
//! `kill -9` (and a power loss), and a reader sees the old object or the new one, never a mix.
//! Keys are indexed in memory (sorted, per bucket) for listings; the index is rebuilt from the
//! files and the journal at start.
//!
//! [`service`] speaks S3 over HTTP with `s3s`; [`ObjectStore`] is what Switchyard itself uses
//! ([`tasks`]: the `aws-sdk:s3` task integration; [`map_tasks`]: a distributed Map's ItemReader
//! and ResultWriter), on the embedded store or, with `--s3-endpoint`, on an external S3
//! ([`RemoteObjects`]).

mod disk;
mod error;
mod journal;
mod list;
mod multipart;
mod remote;
pub mod items;
pub mod map_tasks;
mod results;
pub mod service;
mod store;
pub mod tasks;

pub use disk::{Attributes, ObjectInfo};
pub use error::ObjectError;
pub use list::{ListRequest, Listing};
pub use remote::RemoteObjects;
pub use store::{BucketInfo, ObjectStore, ObjectStream, Objects};
