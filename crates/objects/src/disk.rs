//! How an object lies on disk, and how it gets there durably.
//!
//! An object is one file: its bytes, then its metadata as JSON, then the JSON's length and a
//! magic number. Data first lets a PUT stream the body straight to disk and append what it learnt
//! (size, ETag) at the end; one file per object makes the rename that publishes it atomic for data
//! and metadata together.

use crate::ObjectError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"SWYDOBJ1";
/// The JSON length (u32, little-endian) and the magic number close every object file.
const TRAILER_LEN: u64 = 4 + MAGIC.len() as u64;

/// What S3 reports about an object besides its bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Without quotes: the MD5 hex of the bytes, or `MD5(part MD5s)-N` for a multipart upload.
    pub etag: String,
    pub last_modified_ms: i64,
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

/// What the writer of an object set on it and gets back on reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Attributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `x-amz-meta-*` headers, without the prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl Attributes {
    fn is_empty(&self) -> bool {
        *self == Attributes::default()
    }
}

/// Appends the metadata trailer after the data already written to `file`.
pub fn write_trailer(file: &mut File, info: &ObjectInfo) -> Result<(), ObjectError> {
    let mut trailer = serde_json::to_vec(info).map_err(|error| ObjectError::Io(std::io::Error::other(error)))?;
    let length = u32::try_from(trailer.len()).map_err(|_| ObjectError::Io(std::io::Error::other("object metadata too large")))?;
    trailer.extend_from_slice(&length.to_le_bytes());
    trailer.extend_from_slice(MAGIC);
    // One write: a syscall per piece is a noticeable share of a small PUT.
    file.write_all(&trailer)?;
    Ok(())
}

/// Reads the metadata of an object file.
pub fn read_trailer(file: &mut File) -> Result<ObjectInfo, ObjectError> {
    let corrupt = || ObjectError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, "not an object file"));
    let end = file.seek(SeekFrom::End(0))?;
    if end < TRAILER_LEN {
        return Err(corrupt());
    }
    file.seek(SeekFrom::Start(end - TRAILER_LEN))?;
    let mut trailer = [0u8; TRAILER_LEN as usize];
    file.read_exact(&mut trailer)?;
    let (length, magic) = trailer.split_at(4);
    if magic != MAGIC {
        return Err(corrupt());
    }
    let length = u64::from(u32::from_le_bytes([length[0], length[1], length[2], length[3]]));
    let json_start = end.checked_sub(TRAILER_LEN + length).ok_or_else(corrupt)?;
    file.seek(SeekFrom::Start(json_start))?;
    let mut json = vec![0u8; length as usize];
    file.read_exact(&mut json)?;
    let info: ObjectInfo = serde_json::from_slice(&json).map_err(|_| corrupt())?;
    if info.size != json_start {
        return Err(corrupt());
    }
    Ok(info)
}

pub fn read_info(path: &Path) -> Result<ObjectInfo, ObjectError> {
    read_trailer(&mut File::open(path)?)
}

/// Makes a rename or a removal in `directory` survive a crash.
pub fn sync_directory(directory: &Path) -> std::io::Result<()> {
    File::open(directory)?.sync_all()
}

/// Publishes a fully written and synced temporary file at `target`: after this returns, the
/// new content survives a crash and no reader ever saw a partial one.
pub fn publish(temporary: &Path, target: &Path) -> std::io::Result<()> {
    let directory = target.parent().ok_or_else(|| std::io::Error::other("object path without a directory"))?;
    if !directory.exists() {
        std::fs::create_dir_all(directory)?;
        if let Some(parent) = directory.parent() {
            sync_directory(parent)?;
        }
    }
    std::fs::rename(temporary, target)?;
    sync_directory(directory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trailer_reads_back_what_was_written_after_the_data() {
        let directory = std::env::temp_dir().join(format!("objects-disk-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("object");
        let info = ObjectInfo { key: "a/b.json".into(), size: 5, etag: "5d41402abc4b2a76b9719d911017c592".into(), last_modified_ms: 1, attributes: Attributes::default() };
        let mut file = File::create(&path).unwrap();
        file.write_all(b"hello").unwrap();
        write_trailer(&mut file, &info).unwrap();
        assert_eq!(read_info(&path).unwrap(), info);
        std::fs::write(&path, b"hello").unwrap();
        assert!(read_info(&path).is_err());
        std::fs::remove_dir_all(directory).unwrap();
    }
}
