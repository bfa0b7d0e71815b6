//! The embedded S3-compatible object store.
//!
//! Buckets and objects live under `<data-dir>/objects/`: a bucket is a directory, an object one
//! file named by the SHA-256 of its key (keys are arbitrary UTF-8 up to 1 KiB, file names are not)
//! holding the bytes and, at the end, the metadata (see `disk`). Every write goes to a temporary
//! file, is fsynced and renamed into place, and the directory is fsynced: an acknowledged PUT
//! survives `kill -9`, and a reader sees the old object or the new one, never a mix. Keys are
//! indexed in memory (sorted, per bucket) for listings; the index is rebuilt from the files at
//! start.
//!
//! [`service`] speaks S3 over HTTP with `s3s`; [`ObjectStore`] is what Switchyard itself uses
//! ([`tasks`]: the `aws-sdk:s3` task integration; [`map_tasks`]: a distributed Map's ItemReader
//! and ResultWriter).

mod disk;
mod error;
mod list;
mod multipart;
pub mod items;
pub mod map_tasks;
mod results;
pub mod service;
mod store;
pub mod tasks;

pub use disk::{Attributes, ObjectInfo};
pub use error::ObjectError;
pub use list::{ListRequest, Listing};
pub use store::{BucketInfo, ObjectStore, ObjectStream, Objects};

/// The environment that lets the code a task runs (`boto3.client("s3")`, `aws s3 cp`, any AWS
/// SDK) reach the S3 at `endpoint` unmodified: the S3-specific endpoint variable (other services
/// keep theirs) and credentials — the configured key, or any key when none is configured.
/// Runners of functions, containers and batch jobs add these to what they start.
pub fn task_environment(endpoint: &str, key: Option<&service::AccessKey>) -> Vec<(&'static str, String)> {
    let (access_key_id, secret_access_key) = match key {
        Some(key) => (key.access_key_id.clone(), key.secret_access_key.clone()),
        None => ("switchyard".to_owned(), "switchyard".to_owned()),
    };
    vec![("AWS_ENDPOINT_URL_S3", endpoint.to_owned()), ("AWS_ACCESS_KEY_ID", access_key_id), ("AWS_SECRET_ACCESS_KEY", secret_access_key)]
}
