//! Container images: references written for ECR resolve to local images, and
//! `provider.ecr.images` (Serverless v3) declares images built from a Dockerfile.

/// `123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag` → `repo:tag`: a private ECR
/// registry is where the project pushed its image on AWS; locally the image has the bare name.
/// Other references (Docker Hub, public registries, local names) are kept as they are.
pub fn local_image(reference: &str) -> String {
    match reference.split_once('/') {
        Some((registry, rest)) if is_ecr_registry(registry) => rest.to_owned(),
        _ => reference.to_owned(),
    }
}

fn is_ecr_registry(registry: &str) -> bool {
    let mut labels = registry.split('.');
    let account = labels.next().unwrap_or_default();
    !account.is_empty() && account.chars().all(|character| character.is_ascii_digit()) && labels.next() == Some("dkr") && labels.next() == Some("ecr") && registry.ends_with(".amazonaws.com")
}

/// The tag an image of `provider.ecr.images` is built with.
pub fn built_image_reference(name: &str) -> String {
    format!("{name}:latest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_references_become_local_names() {
        assert_eq!(local_image("000000000000.dkr.ecr.us-east-1.amazonaws.com/stepfunctiontest:latest"), "stepfunctiontest:latest");
        assert_eq!(local_image("123456789012.dkr.ecr.eu-central-1.amazonaws.com/team/app:v2"), "team/app:v2");
        assert_eq!(local_image("docker.io/library/busybox:stable"), "docker.io/library/busybox:stable");
        assert_eq!(local_image("training:latest"), "training:latest");
        assert_eq!(local_image("public.ecr.aws/lambda/python:3.11"), "public.ecr.aws/lambda/python:3.11");
    }
}
