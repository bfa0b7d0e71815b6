//! A configuration file read as JSON, with the line of every key, so that errors can name both.

use crate::error::{ConfigError, KeyError};
use asl::yaml::Lines;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub value: Value,
    lines: Lines,
}

impl SourceFile {
    /// Reads YAML (or JSON, which is YAML) from `path`.
    pub fn read(path: &Path) -> Result<SourceFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError { file: path.to_owned(), line: None, key: String::new(), message: format!("cannot be read: {error}") })?;
        SourceFile::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<SourceFile, ConfigError> {
        let (value, lines) = asl::yaml::to_json_with_lines(text).map_err(|error| ConfigError { file: path.to_owned(), line: error.line, key: error.key, message: error.message })?;
        Ok(SourceFile { path: path.to_owned(), value, lines })
    }

    /// Places an error found at a key of this file.
    pub fn error(&self, error: KeyError) -> ConfigError {
        ConfigError { file: self.path.clone(), line: self.lines.line_of(&error.key), key: error.key, message: error.message }
    }
}
