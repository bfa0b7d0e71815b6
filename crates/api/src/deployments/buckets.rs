//! Applier of S3 buckets on the object store (embedded or external): created when missing;
//! removed with the deployment when empty, kept (as CloudFormation keeps them) when they still
//! hold objects.

use super::outcome::{Action, Outcome};
use deploy::plan::Resource;
use objects::{ObjectError, ObjectStore};

pub async fn apply(store: &dyn ObjectStore, bucket: &Resource) -> Result<Outcome, ObjectError> {
    let outcome = |action| Outcome::new("bucket", &bucket.name, &bucket.arn, action);
    match store.put_bucket(&bucket.name).await {
        Ok(()) => Ok(outcome(Action::Created)),
        Err(ObjectError::BucketAlreadyOwnedByYou(_)) => Ok(outcome(Action::Unchanged)),
        Err(error) => Err(error),
    }
}

pub async fn remove(store: &dyn ObjectStore, bucket: &Resource) -> Result<Outcome, ObjectError> {
    let outcome = Outcome::new("bucket", &bucket.name, &bucket.arn, Action::Removed);
    match store.remove_bucket(&bucket.name).await {
        Ok(()) | Err(ObjectError::NoSuchBucket(_)) => Ok(outcome),
        Err(ObjectError::BucketNotEmpty(_)) => Ok(Outcome { action: Action::Unchanged, ..outcome }.with_detail("kept: it still holds objects")),
        Err(error) => Err(error),
    }
}
