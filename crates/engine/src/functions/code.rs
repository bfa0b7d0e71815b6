//! A function's code on disk: uploaded zips are kept, with their unpacked directory, under the
//! data dir as `functions/NAME/DIGEST.zip` and `functions/NAME/DIGEST/`, where DIGEST is the zip's
//! SHA-256 (base64url). The zip is what makes the code durable: a directory lost in a crash between
//! unpacking and renaming is unpacked again from it.

use super::FunctionsError;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where a function's code is, as its catalog record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Code {
    /// An uploaded zip: `CodeSha256` (base64 of the SHA-256, as Lambda reports it) and `CodeSize`.
    #[serde(rename_all = "camelCase")]
    Zip { sha256: String, size: u64 },
    /// A directory of this machine, used in place (edits are seen by the next cold start).
    #[serde(rename_all = "camelCase")]
    Directory { path: PathBuf },
}

impl Code {
    /// Lambda's `CodeSha256`: of the zip, or of the directory's path for code used in place.
    pub fn sha256(&self) -> String {
        match self {
            Code::Zip { sha256, .. } => sha256.clone(),
            Code::Directory { path } => base64::engine::general_purpose::STANDARD.encode(Sha256::digest(path.as_os_str().as_encoded_bytes())),
        }
    }

    /// Lambda's `CodeSize`: the zip's bytes; 0 for a directory.
    pub fn size(&self) -> u64 {
        match self {
            Code::Zip { size, .. } => *size,
            Code::Directory { .. } => 0,
        }
    }
}

/// The code directories of one data dir.
#[derive(Debug, Clone)]
pub struct CodeStore {
    root: PathBuf,
}

impl CodeStore {
    pub fn new(data_dir: &Path) -> CodeStore {
        CodeStore { root: data_dir.join("functions") }
    }

    /// Checks and keeps an uploaded zip, unpacked; durable before it returns.
    pub fn keep_zip(&self, function: &str, zip: &[u8]) -> Result<Code, FunctionsError> {
        let digest = Sha256::digest(zip);
        let code = Code::Zip { sha256: base64::engine::general_purpose::STANDARD.encode(digest), size: zip.len() as u64 };
        let archive = self.zip_path(function, &code).ok_or_else(|| internal("a zip without digest"))?;
        // Checked before anything is written: a zip that cannot be read is the caller's error.
        zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|_| unreadable_zip())?;
        if let Some(parent) = archive.parent() {
            std::fs::create_dir_all(parent).map_err(|error| internal(&format!("creating {}: {error}", parent.display())))?;
        }
        write_durably(&archive, zip)?;
        self.unpack(function, &code)?;
        Ok(code)
    }

    /// The directory a function runs in; unpacks a kept zip again if its directory is missing.
    pub fn directory(&self, function: &str, code: &Code) -> Result<PathBuf, FunctionsError> {
        match code {
            Code::Directory { path } => Ok(path.clone()),
            Code::Zip { .. } => self.unpack(function, code),
        }
    }

    /// Removes every kept zip and directory of a function but `keep`'s.
    pub fn remove_all_but(&self, function: &str, keep: Option<&Code>) {
        let keep = keep.and_then(|code| digest_name(code));
        let Ok(entries) = std::fs::read_dir(self.root.join(function)) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if keep.as_deref().is_some_and(|keep| name.trim_end_matches(".zip") == keep) {
                continue;
            }
            // What cannot be removed now is only disk space.
            let _ = if entry.path().is_dir() { std::fs::remove_dir_all(entry.path()) } else { std::fs::remove_file(entry.path()) };
        }
        if keep.is_none() {
            let _ = std::fs::remove_dir(self.root.join(function));
        }
    }

    /// Where a function's uploaded zip is kept; None for code used in place.
    pub fn zip_path(&self, function: &str, code: &Code) -> Option<PathBuf> {
        Some(self.root.join(function).join(format!("{}.zip", digest_name(code)?)))
    }

    fn unpack(&self, function: &str, code: &Code) -> Result<PathBuf, FunctionsError> {
        let name = digest_name(code).ok_or_else(|| internal("a directory has nothing to unpack"))?;
        let directory = self.root.join(function).join(&name);
        if directory.is_dir() {
            return Ok(directory);
        }
        let archive = self.root.join(function).join(format!("{name}.zip"));
        let file = std::fs::File::open(&archive).map_err(|error| internal(&format!("the code of {function} ({}): {error}", archive.display())))?;
        let unpacking = self.root.join(function).join(format!("{name}.unpacking"));
        let _ = std::fs::remove_dir_all(&unpacking);
        // extract() refuses entries that would land outside the directory.
        zip::ZipArchive::new(file).and_then(|mut archive| archive.extract(&unpacking)).map_err(|_| unreadable_zip())?;
        std::fs::rename(&unpacking, &directory).map_err(|error| internal(&format!("unpacking the code of {function}: {error}")))?;
        Ok(directory)
    }
}

/// The zip's digest as a file name (base64url, no padding).
fn digest_name(code: &Code) -> Option<String> {
    let Code::Zip { sha256, .. } = code else { return None };
    let digest = base64::engine::general_purpose::STANDARD.decode(sha256).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), FunctionsError> {
    let failed = |error: std::io::Error| internal(&format!("writing {}: {error}", path.display()));
    let mut file = std::fs::File::create(path).map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.sync_all().map_err(failed)
}

fn unreadable_zip() -> FunctionsError {
    FunctionsError::InvalidParameter("Could not unzip uploaded file. Please check your file, then try to upload again.".to_owned())
}

fn internal(detail: &str) -> FunctionsError {
    FunctionsError::Service(detail.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut bytes);
        for (name, text) in files {
            writer.start_file(*name, zip::write::SimpleFileOptions::default()).expect("entry");
            writer.write_all(text.as_bytes()).expect("write");
        }
        writer.finish().expect("finish");
        bytes.into_inner()
    }

    #[test]
    fn a_kept_zip_is_unpacked_and_unpacked_again_when_its_directory_is_lost() {
        let data = tempdir();
        let store = CodeStore::new(&data);
        let zip = zip_of(&[("app.py", "def handler(e, c): return e\n")]);
        let code = store.keep_zip("echo", &zip).expect("kept");
        assert_eq!(code.size(), zip.len() as u64);
        let directory = store.directory("echo", &code).expect("directory");
        assert!(directory.join("app.py").is_file());
        std::fs::remove_dir_all(&directory).expect("removed");
        assert!(store.directory("echo", &code).expect("unpacked again").join("app.py").is_file());
        store.remove_all_but("echo", None);
        assert!(!data.join("functions/echo").exists());
    }

    #[test]
    fn what_is_not_a_zip_is_refused_in_lambda_words() {
        let store = CodeStore::new(&tempdir());
        let error = store.keep_zip("echo", b"this is not a zipfile").expect_err("refused");
        assert_eq!(error, unreadable_zip());
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("switchyard-code-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }
}
