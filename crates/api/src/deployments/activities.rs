//! Applier of activities: CreateActivity is idempotent by name; those a deployment no longer has
//! are deleted.

use super::outcome::{Action, Outcome};
use deploy::plan::Activity;
use engine::catalog::Catalog;
use engine::ServiceError;

pub async fn apply(catalog: &Catalog, activity: &Activity) -> Result<Outcome, ServiceError> {
    let existed = catalog.activity_exists(&activity.arn);
    catalog.create_activity(&activity.name, Vec::new(), None).await?;
    Ok(Outcome::new("activity", &activity.name, &activity.arn, if existed { Action::Unchanged } else { Action::Created }))
}

pub async fn remove(catalog: &Catalog, activity: &Activity) -> Result<Outcome, ServiceError> {
    catalog.delete_activity(&activity.arn).await?;
    Ok(Outcome::new("activity", &activity.name, &activity.arn, Action::Removed))
}
