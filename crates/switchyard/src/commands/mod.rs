pub mod batch;
pub mod batch_setup;
pub mod bench;
pub mod containers;
pub mod logs;
pub mod run;
pub mod s3_setup;
pub mod serve;
pub mod tasks;
pub mod up;
pub mod validate;

use anyhow::Context;

/// A definition or payload given inline, as `@FILE`, or as a path to a file.
pub fn read_argument(argument: &str) -> anyhow::Result<String> {
    let path = argument.strip_prefix('@').unwrap_or(argument);
    let looks_inline = argument.trim_start().starts_with(['{', '[', '"']) || !std::path::Path::new(path).exists();
    if looks_inline && !argument.starts_with('@') {
        return Ok(argument.to_owned());
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
}
