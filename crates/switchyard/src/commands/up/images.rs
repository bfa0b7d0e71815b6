//! The images a project declares (`provider.ecr.images`), built before deploying through the
//! container engine's build API, so that task and job definitions run what the project's folder
//! holds now.

use compute::containers::build::{build_image, ImageBuild};
use compute::containers::ContainerErrorKind;
use deploy::Plan;
use std::path::PathBuf;
use std::time::Instant;

/// Builds every image of `plan`, printing the engine's progress. Without an engine, the images
/// are not built (the process runner needs none) and a warning says so.
pub async fn build(plan: &Plan) -> anyhow::Result<()> {
    for image in &plan.images {
        let build = ImageBuild {
            reference: image.reference.clone(),
            context: PathBuf::from(&image.context),
            dockerfile: image.dockerfile.clone(),
            build_args: image.build_args.clone(),
            platform: image.platform.clone(),
            cache_from: image.cache_from.clone(),
        };
        let started = Instant::now();
        println!("building image {} ({} in {})", image.reference, image.dockerfile, image.context);
        match build_image(None, &build, |line| println!("  {}: {line}", image.name)).await {
            Ok(()) => println!("built image {} in {} ms", image.reference, started.elapsed().as_millis()),
            Err(error) if error.kind == ContainerErrorKind::Engine => {
                eprintln!("warning: provider.ecr.images are not built: {}; containers that need them cannot start on an engine", error.message);
                return Ok(());
            }
            Err(error) => anyhow::bail!("provider.ecr.images.{}: {}", image.name, error.message),
        }
    }
    Ok(())
}
