//! Images built from a Dockerfile through the engine's build API (`POST /build`, what `docker
//! build` calls), for the images a project declares (`provider.ecr.images` of serverless.yml).

use super::engine::{describe, find_engine};
use super::{ContainerError, ContainerErrorKind};
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// What to build and how to tag it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuild {
    /// The tag of the built image.
    pub reference: String,
    /// The folder sent as the build context.
    pub context: PathBuf,
    /// The Dockerfile, relative to the context.
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    /// `linux/amd64`, ...; the engine's own when None.
    pub platform: Option<String>,
    /// Images whose layers the build may reuse.
    pub cache_from: Vec<String>,
}

/// Builds `build` on the engine at `host` (None: `DOCKER_HOST`, then the usual sockets); the
/// build's output goes to `progress` line by line.
pub async fn build_image(host: Option<String>, build: &ImageBuild, mut progress: impl FnMut(&str)) -> Result<(), ContainerError> {
    let failed = |message: String| ContainerError::new(ContainerErrorKind::Image, format!("building {}: {message}", build.reference));
    let (docker, _) = find_engine(host).await?;
    let archive = context_archive(&build.context, &build.dockerfile).map_err(|error| failed(format!("the context {}: {error}", build.context.display())))?;
    let build_args: HashMap<String, String> = build.build_args.clone().into_iter().collect();
    let mut options = BuildImageOptionsBuilder::default().dockerfile(&build.dockerfile).t(&build.reference).rm(true).buildargs(&build_args).cachefrom(&build.cache_from);
    if let Some(platform) = &build.platform {
        options = options.platform(platform);
    }
    let mut output = docker.build_image(options.build(), None, Some(bollard::body_full(archive.into())));
    while let Some(step) = output.next().await {
        let step = step.map_err(|error| failed(describe(&error)))?;
        if let Some(message) = step.error_detail.and_then(|detail| detail.message) {
            return Err(failed(message));
        }
        for line in step.stream.iter().chain(step.status.iter()).flat_map(|text| text.lines()) {
            if !line.trim().is_empty() {
                progress(line.trim_end());
            }
        }
    }
    Ok(())
}

/// The context folder as a tar archive, without what its `.dockerignore` excludes (the
/// Dockerfile and `.dockerignore` themselves are always sent, as Docker sends them).
fn context_archive(context: &Path, dockerfile: &str) -> std::io::Result<Vec<u8>> {
    let ignored = IgnoreRules::read(context)?;
    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(false);
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(context.join(&folder))?.collect::<Result<_, _>>()?;
        // The same context gives the same archive, and so the engine's cache its layers.
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let relative = folder.join(entry.file_name());
            let always_sent = relative == Path::new(dockerfile) || relative == Path::new(".dockerignore");
            let is_folder = entry.file_type()?.is_dir();
            if is_folder {
                // An excluded folder is still walked when an exception (`!`) may bring back part of it.
                if !ignored.excludes(&relative) || ignored.has_exceptions {
                    folders.push(relative);
                }
                continue;
            }
            if always_sent || !ignored.excludes(&relative) {
                archive.append_path_with_name(entry.path(), &relative)?;
            }
        }
    }
    archive.into_inner()
}

/// The patterns of a `.dockerignore`, in order: the last one that matches a path (or a folder
/// it is in) decides, and a `!` pattern brings the path back.
struct IgnoreRules {
    patterns: Vec<(glob::Pattern, bool)>,
    has_exceptions: bool,
}

impl IgnoreRules {
    fn read(context: &Path) -> std::io::Result<IgnoreRules> {
        let text = match std::fs::read_to_string(context.join(".dockerignore")) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(error),
        };
        let mut patterns = Vec::new();
        for line in text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')) {
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(pattern) => (true, pattern.trim()),
                None => (false, line),
            };
            let pattern = pattern.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
            let compiled = glob::Pattern::new(pattern).map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, format!(".dockerignore: {line}: {error}")))?;
            patterns.push((compiled, exception));
        }
        let has_exceptions = patterns.iter().any(|(_, exception)| *exception);
        Ok(IgnoreRules { patterns, has_exceptions })
    }

    fn excludes(&self, path: &Path) -> bool {
        let options = glob::MatchOptions { require_literal_separator: true, ..glob::MatchOptions::new() };
        let mut excluded = false;
        for (pattern, exception) in &self.patterns {
            if path.ancestors().filter(|part| !part.as_os_str().is_empty()).any(|part| pattern.matches_path_with(part, options)) {
                excluded = !exception;
            }
        }
        excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(archive: &[u8]) -> Vec<String> {
        let mut names: Vec<String> = tar::Archive::new(archive).entries().unwrap().map(|entry| entry.unwrap().path().unwrap().display().to_string()).collect();
        names.sort();
        names
    }

    #[test]
    fn the_context_leaves_out_what_dockerignore_excludes() {
        let context = std::env::temp_dir().join(format!("switchyard-build-context-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&context);
        for file in ["Dockerfile", "app/exec", "app/notes.md", "app/README.md", "node_modules/x/index.js", "src/deep/a.pyc", "src/keep.py"] {
            std::fs::create_dir_all(context.join(file).parent().unwrap()).unwrap();
            std::fs::write(context.join(file), "x").unwrap();
        }
        std::fs::write(context.join(".dockerignore"), "# comment\nnode_modules\n**/*.pyc\n*.md\napp/*.md\n!app/README.md\nDockerfile\n").unwrap();
        let archive = context_archive(&context, "Dockerfile").unwrap();
        assert_eq!(names_in(&archive), [".dockerignore", "Dockerfile", "app/README.md", "app/exec", "src/keep.py"]);
        std::fs::remove_dir_all(&context).unwrap();
    }
}
