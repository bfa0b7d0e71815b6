//! Multipart uploads: parts are files of their own until CompleteMultipartUpload joins them.
//!
//! `uploads/<upload id>/upload.json` names the bucket, key and attributes; `uploads/<id>/<n>`
//! holds part n in the object file format (its metadata carries the part's ETag).

use crate::disk::{self, Attributes, ObjectInfo};
use crate::store::{hex, now_ms, run_blocking, Objects};
use crate::ObjectError;
use bytes::Bytes;
use futures::Stream;
use s3s::crypto::{Checksum, Md5};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// S3's minimum size of every part but the last.
const MIN_PART_SIZE: u64 = 5 << 20;
const UPLOAD_FILE: &str = "upload.json";

#[derive(Serialize, Deserialize)]
struct Upload {
    bucket: String,
    key: String,
    attributes: Attributes,
    initiated_ms: i64,
}

pub struct Part {
    pub number: i32,
    pub info: ObjectInfo,
}

impl Objects {
    fn upload_path(&self, upload_id: &str) -> Result<PathBuf, ObjectError> {
        // Upload ids are ours (uuid hex): anything else names no upload, and never a path.
        if upload_id.is_empty() || !upload_id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(ObjectError::NoSuchUpload(upload_id.to_owned()));
        }
        Ok(self.uploads_path().join(upload_id))
    }

    fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(PathBuf, Upload), ObjectError> {
        let directory = self.upload_path(upload_id)?;
        let json = std::fs::read(directory.join(UPLOAD_FILE)).map_err(|_| ObjectError::NoSuchUpload(upload_id.to_owned()))?;
        let upload: Upload = serde_json::from_slice(&json).map_err(|_| ObjectError::NoSuchUpload(upload_id.to_owned()))?;
        if upload.bucket != bucket || upload.key != key {
            return Err(ObjectError::NoSuchUpload(upload_id.to_owned()));
        }
        Ok((directory, upload))
    }

    pub fn create_upload(&self, bucket: &str, key: &str, attributes: Attributes) -> Result<String, ObjectError> {
        if !self.bucket_exists(bucket) {
            return Err(ObjectError::NoSuchBucket(bucket.to_owned()));
        }
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let building = self.temporary_path();
        std::fs::create_dir(&building)?;
        let upload = Upload { bucket: bucket.to_owned(), key: key.to_owned(), attributes, initiated_ms: now_ms() };
        let mut file = std::fs::File::create(building.join(UPLOAD_FILE))?;
        file.write_all(&serde_json::to_vec(&upload).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        disk::publish(&building, &self.uploads_path().join(&upload_id))?;
        Ok(upload_id)
    }

    pub async fn upload_part<S, E>(&self, bucket: &str, key: &str, upload_id: &str, number: i32, body: S) -> Result<ObjectInfo, ObjectError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if !(1..=10_000).contains(&number) {
            return Err(ObjectError::InvalidArgument("Part number must be an integer between 1 and 10000, inclusive".into()));
        }
        let (directory, _) = self.upload(bucket, key, upload_id)?;
        let received = self.receive(body).await?;
        let info = ObjectInfo { key: number.to_string(), size: received.size, etag: hex(&received.md5), last_modified_ms: now_ms(), attributes: Attributes::default() };
        let (mut file, temporary) = (received.file, received.path);
        run_blocking(move || {
            disk::write_trailer(&mut file, &info)?;
            file.sync_data()?;
            disk::publish(&temporary, &directory.join(number.to_string()))?;
            Ok(info)
        })
        .await
    }

    pub fn list_parts(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Vec<Part>, ObjectError> {
        let (directory, _) = self.upload(bucket, key, upload_id)?;
        let mut parts = Vec::new();
        for entry in std::fs::read_dir(&directory)? {
            let entry = entry?;
            let Some(number) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else { continue };
            parts.push(Part { number, info: disk::read_info(&entry.path())? });
        }
        parts.sort_by_key(|part| part.number);
        Ok(parts)
    }

    pub fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), ObjectError> {
        let (directory, _) = self.upload(bucket, key, upload_id)?;
        let doomed = self.temporary_path();
        disk::publish(&directory, &doomed)?;
        let _ = std::fs::remove_dir_all(doomed);
        Ok(())
    }

    /// Joins the named parts (number, ETag) into the object. Its ETag is S3's: the MD5 of the
    /// parts' binary MD5s, a dash, and the number of parts.
    pub async fn complete_upload(self: &Arc<Self>, bucket: &str, key: &str, upload_id: &str, chosen: Vec<(i32, Option<String>)>) -> Result<ObjectInfo, ObjectError> {
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        let (info, directory) = self
            .blocking(move |objects| {
                let (directory, upload) = objects.upload(&bucket, &key, &upload_id)?;
                if chosen.is_empty() {
                    return Err(ObjectError::InvalidArgument("You must specify at least one part".into()));
                }
                if chosen.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
                    return Err(ObjectError::InvalidPartOrder);
                }
                let temporary = objects.temporary_path();
                let mut joined = std::fs::File::create(&temporary)?;
                let mut part_md5s = Md5::new();
                let mut size = 0u64;
                for (index, (number, etag)) in chosen.iter().enumerate() {
                    let path = directory.join(number.to_string());
                    let mut part = std::fs::File::open(&path).map_err(|_| ObjectError::InvalidPart(number.to_string()))?;
                    let info = disk::read_trailer(&mut part)?;
                    if etag.as_deref().is_some_and(|etag| etag.trim_matches('"') != info.etag) {
                        return Err(ObjectError::InvalidPart(number.to_string()));
                    }
                    if index + 1 < chosen.len() && info.size < MIN_PART_SIZE {
                        return Err(ObjectError::EntityTooSmall);
                    }
                    part_md5s.update(&decode_hex(&info.etag).ok_or_else(|| ObjectError::InvalidPart(number.to_string()))?);
                    part.seek(SeekFrom::Start(0))?;
                    std::io::copy(&mut (&mut part).take(info.size), &mut joined)?;
                    size += info.size;
                }
                let etag = format!("{}-{}", hex(&part_md5s.finalize()), chosen.len());
                let info = ObjectInfo { key: upload.key, size, etag, last_modified_ms: now_ms(), attributes: upload.attributes };
                Ok((objects.publish_object(&bucket, joined, temporary, info)?, directory))
            })
            .await?;
        let _ = std::fs::remove_dir_all(directory);
        Ok(info)
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok()).collect()
}
