//! Applier of S3 buckets on the embedded object store: created when missing; removed with the
//! deployment when empty, kept (as CloudFormation keeps them) when they still hold objects.

use super::outcome::{Action, Outcome};
use deploy::plan::Resource;
use objects::{ObjectError, Objects};

pub fn apply(objects: &Objects, bucket: &Resource) -> Result<Outcome, ObjectError> {
    let outcome = |action| Outcome::new("bucket", &bucket.name, &bucket.arn, action);
    if objects.bucket_exists(&bucket.name) {
        return Ok(outcome(Action::Unchanged));
    }
    objects.create_bucket(&bucket.name)?;
    Ok(outcome(Action::Created))
}

pub fn remove(objects: &Objects, bucket: &Resource) -> Result<Outcome, ObjectError> {
    let outcome = Outcome::new("bucket", &bucket.name, &bucket.arn, Action::Removed);
    match objects.delete_bucket(&bucket.name) {
        Ok(()) | Err(ObjectError::NoSuchBucket(_)) => Ok(outcome),
        Err(ObjectError::BucketNotEmpty(_)) => Ok(Outcome { action: Action::Unchanged, ..outcome }.with_detail("kept: it still holds objects")),
        Err(error) => Err(error),
    }
}
