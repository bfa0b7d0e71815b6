//! The store itself: buckets, objects and their in-memory key index.

use crate::disk::{self, Attributes, ObjectInfo};
use crate::list::{self, ListRequest, Listing};
use crate::ObjectError;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};
use s3s::crypto::{Checksum, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bodies up to this size are written in one blocking step from memory (see [`Objects::put`]).
const GATHERED_BODY_LIMIT: usize = 1 << 20;

/// What a read hands on: the bytes, or the file positioned at them.
enum Contents {
    Read(Bytes),
    Streamed(std::fs::File),
}

fn body_error(error: impl std::fmt::Display) -> ObjectError {
    ObjectError::InvalidArgument(format!("reading the request body: {error}"))
}

/// The bytes of an object (or of the requested range), as they are read.
pub type ObjectStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + Sync>>;

/// What Switchyard needs of S3 for itself, so that its task integrations and deployments do not
/// depend on where objects are kept: the embedded [`Objects`], or an external S3
/// ([`crate::RemoteObjects`]).
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync {
    /// The object's metadata and its bytes from `range` (first byte, last byte inclusive).
    async fn get_object(&self, bucket: &str, key: &str, range: Option<(u64, Option<u64>)>) -> Result<(ObjectInfo, ObjectStream), ObjectError>;
    async fn put_object(&self, bucket: &str, key: &str, body: Bytes, attributes: Attributes) -> Result<ObjectInfo, ObjectError>;
    /// Stores an object of `size` bytes that arrive as a stream (a Map Run's result file can be
    /// larger than memory).
    async fn put_object_streamed(&self, bucket: &str, key: &str, body: ObjectStream, size: u64, attributes: Attributes) -> Result<ObjectInfo, ObjectError>;
    async fn list_objects(&self, bucket: &str, request: &ListRequest<'_>) -> Result<Listing, ObjectError>;
    async fn copy_object(&self, source_bucket: &str, source_key: &str, bucket: &str, key: &str) -> Result<ObjectInfo, ObjectError>;
    /// CreateBucket; fails with `BucketAlreadyOwnedByYou` when the bucket exists. (Named apart
    /// from [`Objects::create_bucket`], which method resolution on an `Arc<Objects>` would
    /// otherwise shadow.)
    async fn put_bucket(&self, bucket: &str) -> Result<(), ObjectError>;
    /// DeleteBucket; fails with `BucketNotEmpty` while the bucket holds objects.
    async fn remove_bucket(&self, bucket: &str) -> Result<(), ObjectError>;
}

/// A request body written to a temporary file, not yet synced.
pub(crate) struct Received {
    pub file: std::fs::File,
    pub path: PathBuf,
    pub size: u64,
    pub md5: [u8; 16],
}

pub struct BucketInfo {
    pub name: String,
    pub created_ms: i64,
}

struct Bucket {
    created_ms: i64,
    objects: BTreeMap<String, Arc<ObjectInfo>>,
}

const BUCKET_FILE: &str = "bucket.json";

/// The embedded object store under one directory.
pub struct Objects {
    root: PathBuf,
    buckets: RwLock<BTreeMap<String, Bucket>>,
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Objects {
    /// Opens (creating) the store in `root`, indexing what is there and dropping the temporary
    /// files of writes a crash interrupted.
    pub fn open(root: &Path) -> Result<Objects, ObjectError> {
        for directory in ["buckets", "tmp", "uploads"] {
            std::fs::create_dir_all(root.join(directory))?;
        }
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let path = entry?.path();
            let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        }
        let mut buckets = BTreeMap::new();
        for entry in std::fs::read_dir(root.join("buckets"))? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            buckets.insert(name, load_bucket(&entry.path())?);
        }
        Ok(Objects { root: root.to_owned(), buckets: RwLock::new(buckets) })
    }

    fn read_buckets(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Bucket>> {
        self.buckets.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_buckets(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Bucket>> {
        self.buckets.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn temporary_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().simple().to_string())
    }

    pub(crate) fn uploads_path(&self) -> PathBuf {
        self.root.join("uploads")
    }

    fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        let digest = hex(&Sha256::digest(key.as_bytes()));
        self.root.join("buckets").join(bucket).join(&digest[..2]).join(&digest)
    }

    fn require_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        if self.read_buckets().contains_key(bucket) {
            Ok(())
        } else {
            Err(ObjectError::NoSuchBucket(bucket.to_owned()))
        }
    }

    pub fn create_bucket(&self, name: &str) -> Result<(), ObjectError> {
        let mut buckets = self.write_buckets();
        if buckets.contains_key(name) {
            return Err(ObjectError::BucketAlreadyOwnedByYou(name.to_owned()));
        }
        // Built aside and renamed into place, so a crash never leaves a bucket without its file.
        let building = self.temporary_path();
        std::fs::create_dir(&building)?;
        let created_ms = now_ms();
        let mut file = std::fs::File::create(building.join(BUCKET_FILE))?;
        file.write_all(serde_json::json!({ "createdMs": created_ms }).to_string().as_bytes())?;
        file.sync_all()?;
        disk::publish(&building, &self.root.join("buckets").join(name))?;
        buckets.insert(name.to_owned(), Bucket { created_ms, objects: BTreeMap::new() });
        Ok(())
    }

    pub fn delete_bucket(&self, name: &str) -> Result<(), ObjectError> {
        let mut buckets = self.write_buckets();
        match buckets.get(name) {
            None => return Err(ObjectError::NoSuchBucket(name.to_owned())),
            Some(bucket) if !bucket.objects.is_empty() => return Err(ObjectError::BucketNotEmpty(name.to_owned())),
            Some(_) => {}
        }
        // Renamed away first: the removal of the files that follows may be cut by a crash.
        let doomed = self.temporary_path();
        disk::publish(&self.root.join("buckets").join(name), &doomed)?;
        buckets.remove(name);
        let _ = std::fs::remove_dir_all(doomed);
        Ok(())
    }

    pub fn bucket_exists(&self, name: &str) -> bool {
        self.read_buckets().contains_key(name)
    }

    pub fn buckets(&self) -> Vec<BucketInfo> {
        self.read_buckets().iter().map(|(name, bucket)| BucketInfo { name: name.clone(), created_ms: bucket.created_ms }).collect()
    }

    /// Writes the body from `body` as the object `key`. A body up to [`GATHERED_BODY_LIMIT`] is
    /// gathered in memory and then written, synced and published in one blocking step (one
    /// thread hop per PUT); a larger one streams to a temporary file as it arrives.
    pub async fn put<S, E>(self: &Arc<Self>, bucket: &str, key: &str, mut body: S, attributes: Attributes) -> Result<ObjectInfo, ObjectError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.require_bucket(bucket)?;
        let mut gathered = Vec::new();
        let mut gathered_size = 0;
        while gathered_size <= GATHERED_BODY_LIMIT {
            let Some(chunk) = body.next().await else {
                let (bucket, key) = (bucket.to_owned(), key.to_owned());
                return self.blocking(move |objects| objects.write_gathered(&bucket, key, &gathered, attributes)).await;
            };
            let chunk = chunk.map_err(body_error)?;
            gathered_size += chunk.len();
            gathered.push(chunk);
        }
        let rest = futures::stream::iter(gathered.into_iter().map(Ok)).chain(body.map(|chunk| chunk.map_err(body_error)));
        let received = self.receive(rest).await?;
        let info = ObjectInfo { key: key.to_owned(), size: received.size, etag: hex(&received.md5), last_modified_ms: now_ms(), attributes };
        let bucket = bucket.to_owned();
        self.blocking(move |objects| objects.publish_object(&bucket, received.file, received.path, info)).await
    }

    /// Writes a body held in memory as a new object (blocking).
    fn write_gathered(&self, bucket: &str, key: String, chunks: &[Bytes], attributes: Attributes) -> Result<ObjectInfo, ObjectError> {
        let mut md5 = Md5::new();
        let mut size = 0u64;
        for chunk in chunks {
            md5.update(chunk);
            size += chunk.len() as u64;
        }
        let info = ObjectInfo { key, size, etag: hex(&md5.finalize()), last_modified_ms: now_ms(), attributes };
        let temporary = self.temporary_path();
        let mut file = std::fs::File::create(&temporary)?;
        if let Err(error) = chunks.iter().try_for_each(|chunk| file.write_all(chunk)) {
            let _ = std::fs::remove_file(&temporary);
            return Err(error.into());
        }
        self.publish_object(bucket, file, temporary, info)
    }

    /// Streams `body` into a new temporary file.
    pub(crate) async fn receive<S, E>(&self, mut body: S) -> Result<Received, ObjectError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = self.temporary_path();
        let mut file = tokio::fs::File::create(&path).await?;
        let mut md5 = Md5::new();
        let mut size = 0u64;
        let written = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(body_error)?;
                md5.update(&chunk);
                size += chunk.len() as u64;
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            Ok::<_, ObjectError>(())
        };
        if let Err(error) = written.await {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(error);
        }
        Ok(Received { file: file.into_std().await, path, size, md5: md5.finalize() })
    }

    /// Publishes a temporary object file whose data is written (blocking): trailer, data sync,
    /// rename into place with the index change, directory sync. The data is synced before the
    /// rename can reach the disk, so a crash leaves the old object or the whole new one; only
    /// `fdatasync` is needed, as the file's other metadata (times, owner) is not part of it.
    pub(crate) fn publish_object(&self, bucket: &str, mut file: std::fs::File, temporary: PathBuf, info: ObjectInfo) -> Result<ObjectInfo, ObjectError> {
        let written = disk::write_trailer(&mut file, &info).and_then(|()| Ok(file.sync_data()?));
        drop(file);
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(error);
        }
        let target = self.object_path(bucket, &info.key);
        let directory = target.parent().ok_or_else(|| ObjectError::Io(std::io::Error::other("object path without a directory")))?;
        let mut new_directory = false;
        {
            // The rename and the index change happen together, so that two writers of one key
            // leave the index naming the file that won.
            let mut buckets = self.write_buckets();
            let Some(entry) = buckets.get_mut(bucket) else {
                let _ = std::fs::remove_file(&temporary);
                return Err(ObjectError::NoSuchBucket(bucket.to_owned()));
            };
            if !directory.exists() {
                std::fs::create_dir_all(directory)?;
                new_directory = true;
            }
            std::fs::rename(&temporary, &target)?;
            entry.objects.insert(info.key.clone(), Arc::new(info.clone()));
        }
        disk::sync_directory(directory)?;
        if let Some(bucket_directory) = directory.parent().filter(|_| new_directory) {
            disk::sync_directory(bucket_directory)?;
        }
        Ok(info)
    }

    /// Opens an object for reading: its metadata (from the file itself, consistent with the
    /// bytes even when a writer replaces the object meanwhile) and the open file.
    pub(crate) fn open_object(&self, bucket: &str, key: &str) -> Result<(ObjectInfo, std::fs::File), ObjectError> {
        let path = self.object_path(bucket, key);
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                self.require_bucket(bucket)?;
                return Err(ObjectError::NoSuchKey(key.to_owned()));
            }
            Err(error) => return Err(error.into()),
        };
        let info = disk::read_trailer(&mut file)?;
        if info.key != key {
            return Err(ObjectError::NoSuchKey(key.to_owned()));
        }
        Ok((info, file))
    }

    pub async fn head(self: &Arc<Self>, bucket: &str, key: &str) -> Result<ObjectInfo, ObjectError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |objects| objects.open_object(&bucket, &key).map(|(info, _)| info)).await
    }

    /// The object's metadata and its bytes in `start..end`: read in the same blocking step as
    /// the open when they are few (up to [`GATHERED_BODY_LIMIT`]), else streamed from the file.
    pub async fn read(self: &Arc<Self>, bucket: &str, key: &str, range: impl FnOnce(u64) -> Result<std::ops::Range<u64>, ObjectError> + Send + 'static) -> Result<(ObjectInfo, std::ops::Range<u64>, ObjectStream), ObjectError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let (info, range, contents) = self
            .blocking(move |objects| {
                let (info, mut file) = objects.open_object(&bucket, &key)?;
                let range = range(info.size)?;
                file.seek(SeekFrom::Start(range.start))?;
                let length = range.end - range.start;
                let contents = if length <= GATHERED_BODY_LIMIT as u64 {
                    let mut bytes = vec![0; length as usize];
                    file.read_exact(&mut bytes)?;
                    Contents::Read(Bytes::from(bytes))
                } else {
                    Contents::Streamed(file)
                };
                Ok((info, range, contents))
            })
            .await?;
        let stream: ObjectStream = match contents {
            Contents::Read(bytes) => Box::pin(futures::stream::iter([Ok(bytes)])),
            Contents::Streamed(file) => Box::pin(tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file).take(range.end - range.start), 64 << 10)),
        };
        Ok((info, range, stream))
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), ObjectError> {
        let target = self.object_path(bucket, key);
        {
            let mut buckets = self.write_buckets();
            let Some(entry) = buckets.get_mut(bucket) else { return Err(ObjectError::NoSuchBucket(bucket.to_owned())) };
            match std::fs::remove_file(&target) {
                Ok(()) => {}
                // S3 answers a delete of a missing key with success.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(error) => return Err(error.into()),
            }
            entry.objects.remove(key);
        }
        if let Some(directory) = target.parent().map(Path::to_owned) {
            run_blocking(move || Ok(disk::sync_directory(&directory)?)).await?;
        }
        Ok(())
    }

    /// Copies an object; the copy keeps the source's ETag (S3 keeps a multipart ETag as is) and
    /// its attributes unless `attributes` replaces them.
    pub async fn copy(self: &Arc<Self>, source_bucket: &str, source_key: &str, bucket: &str, key: &str, attributes: Option<Attributes>) -> Result<ObjectInfo, ObjectError> {
        self.require_bucket(bucket)?;
        let (source_bucket, source_key, key) = (source_bucket.to_owned(), source_key.to_owned(), key.to_owned());
        let bucket = bucket.to_owned();
        self.blocking(move |objects| {
            let (source, mut reader) = objects.open_object(&source_bucket, &source_key)?;
            reader.seek(SeekFrom::Start(0))?;
            let temporary = objects.temporary_path();
            let mut file = std::fs::File::create(&temporary)?;
            if let Err(error) = std::io::copy(&mut (&mut reader).take(source.size), &mut file) {
                let _ = std::fs::remove_file(&temporary);
                return Err(error.into());
            }
            let attributes = attributes.unwrap_or(source.attributes);
            objects.publish_object(&bucket, file, temporary, ObjectInfo { key, size: source.size, etag: source.etag, last_modified_ms: now_ms(), attributes })
        })
        .await
    }

    pub fn list(&self, bucket: &str, request: &ListRequest<'_>) -> Result<Listing, ObjectError> {
        let buckets = self.read_buckets();
        let entry = buckets.get(bucket).ok_or_else(|| ObjectError::NoSuchBucket(bucket.to_owned()))?;
        Ok(list::list(&entry.objects, request))
    }

    /// Runs blocking file work off the async workers.
    pub(crate) async fn blocking<T: Send + 'static>(self: &Arc<Self>, work: impl FnOnce(&Objects) -> Result<T, ObjectError> + Send + 'static) -> Result<T, ObjectError> {
        let objects = self.clone();
        run_blocking(move || work(&objects)).await
    }
}

pub(crate) async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, ObjectError> + Send + 'static) -> Result<T, ObjectError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| ObjectError::Io(std::io::Error::other(error)))?
}

fn load_bucket(directory: &Path) -> Result<Bucket, ObjectError> {
    let created_ms = std::fs::read(directory.join(BUCKET_FILE))
        .ok()
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .and_then(|value| value.get("createdMs").and_then(serde_json::Value::as_i64))
        .unwrap_or_else(now_ms);
    let mut objects = BTreeMap::new();
    for fanout in std::fs::read_dir(directory)? {
        let fanout = fanout?;
        if !fanout.file_type()?.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(fanout.path())? {
            let path = entry?.path();
            match disk::read_info(&path) {
                Ok(info) => {
                    objects.insert(info.key.clone(), Arc::new(info));
                }
                Err(error) => tracing::warn!(path = %path.display(), %error, "skipping a file that is not an object"),
            }
        }
    }
    Ok(Bucket { created_ms, objects })
}

#[async_trait::async_trait]
impl ObjectStore for Arc<Objects> {
    async fn get_object(&self, bucket: &str, key: &str, range: Option<(u64, Option<u64>)>) -> Result<(ObjectInfo, ObjectStream), ObjectError> {
        let (info, _, stream) = self
            .read(bucket, key, move |size| match range {
                None => Ok(0..size),
                Some((first, last)) if first < size => Ok(first..last.map_or(size, |last| last.saturating_add(1).min(size))),
                Some(_) => Err(ObjectError::InvalidArgument("The requested range is not satisfiable".into())),
            })
            .await?;
        Ok((info, stream))
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Bytes, attributes: Attributes) -> Result<ObjectInfo, ObjectError> {
        self.put(bucket, key, futures::stream::iter([Ok::<_, ObjectError>(body)]), attributes).await
    }

    /// The size comes with the stream's end.
    async fn put_object_streamed(&self, bucket: &str, key: &str, body: ObjectStream, _size: u64, attributes: Attributes) -> Result<ObjectInfo, ObjectError> {
        self.put(bucket, key, body, attributes).await
    }

    async fn list_objects(&self, bucket: &str, request: &ListRequest<'_>) -> Result<Listing, ObjectError> {
        self.list(bucket, request)
    }

    async fn copy_object(&self, source_bucket: &str, source_key: &str, bucket: &str, key: &str) -> Result<ObjectInfo, ObjectError> {
        self.copy(source_bucket, source_key, bucket, key, None).await
    }

    async fn put_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        Objects::create_bucket(self, bucket)
    }

    async fn remove_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        Objects::delete_bucket(self, bucket)
    }
}
