//! The store itself: buckets, objects and their in-memory key index.

use crate::disk::{self, Attributes, ObjectInfo};
use crate::journal::{self, Entry, Journal, Located, Record, Segment};
use crate::list::{self, ListRequest, Listing};
use crate::ObjectError;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockWriteGuard};
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

/// Where an object's bytes are: its own file, or a record of the journal.
pub(crate) enum Stored {
    File(std::fs::File),
    Journaled(Located),
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
    /// The keys whose object is in the journal, not (yet) in its own file.
    journaled: HashMap<String, Located>,
}

type Buckets = BTreeMap<String, Bucket>;

const BUCKET_FILE: &str = "bucket.json";

/// The embedded object store under one directory.
pub struct Objects {
    root: PathBuf,
    buckets: RwLock<Buckets>,
    /// Taken before `buckets` by every change the journal records, so that the journal's order
    /// is the index's.
    journal: Mutex<Journal>,
    /// Full segments whose objects are being copied to their own files, oldest first.
    sealed: Mutex<Vec<Arc<Segment>>>,
    /// Whether a thread is copying the objects of sealed segments.
    materializing: AtomicBool,
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Objects {
    /// Opens (creating) the store in `root`, indexing what is there and dropping the temporary
    /// files of writes a crash interrupted. The journal is replayed over the object files; the
    /// objects of its full segments are copied to their own files before this returns (there
    /// are some only when the last run stopped while doing that).
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
        let (journal, sealed) = Journal::open(&root.join("journal"), |entry, located| replay(root, &mut buckets, entry, located))?;
        let objects = Objects {
            root: root.to_owned(),
            buckets: RwLock::new(buckets),
            journal: Mutex::new(journal),
            sealed: Mutex::new(sealed),
            materializing: AtomicBool::new(false),
        };
        objects.materialize_sealed();
        Ok(objects)
    }

    fn read_buckets(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Bucket>> {
        self.buckets.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_buckets(&self) -> RwLockWriteGuard<'_, Buckets> {
        self.buckets.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_sealed(&self) -> MutexGuard<'_, Vec<Arc<Segment>>> {
        self.sealed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_journal_state(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Locks the journal, with room for `record`, then the index (see [`Objects::journal`]).
    fn lock_journal(self: &Arc<Self>, record: &Record) -> Result<MutexGuard<'_, Journal>, ObjectError> {
        let mut journal = self.lock_journal_state();
        if let Some(full) = journal.make_room(record)? {
            self.seal(full);
        }
        Ok(journal)
    }

    pub(crate) fn temporary_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().simple().to_string())
    }

    pub(crate) fn uploads_path(&self) -> PathBuf {
        self.root.join("uploads")
    }

    fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        object_path(&self.root, bucket, key)
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
        buckets.insert(name.to_owned(), Bucket { created_ms, objects: BTreeMap::new(), journaled: HashMap::new() });
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
    /// gathered in memory and then stored in one blocking step: in the journal up to
    /// [`journal::JOURNALED_BODY_LIMIT`], else in its own file; a larger one streams to a
    /// temporary file as it arrives.
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
                // A journaled body is stored right here, on the async worker: one write and one
                // `fdatasync` of a few data blocks (0.1–0.2 ms on this kind of disk), where handing
                // it to another thread and back took as long again (measured: 0.02 s per 100
                // PUTs). The worker's other tasks wait that long, or are stolen by another worker.
                // Starting a segment (16 MiB written and synced) is left to a blocking thread.
                if gathered_size <= journal::JOURNALED_BODY_LIMIT && self.lock_journal_state().has_room_for(gathered_size) {
                    return self.write_gathered(bucket, key.to_owned(), gathered, attributes);
                }
                let (bucket, key) = (bucket.to_owned(), key.to_owned());
                return self.blocking(move |objects| objects.write_gathered(&bucket, key, gathered, attributes)).await;
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

    /// Stores a body held in memory as a new object (blocking).
    fn write_gathered(self: &Arc<Self>, bucket: &str, key: String, chunks: Vec<Bytes>, attributes: Attributes) -> Result<ObjectInfo, ObjectError> {
        let body = match chunks.len() {
            1 => chunks.into_iter().next().unwrap_or_default(),
            _ => Bytes::from(chunks.concat()),
        };
        let mut md5 = Md5::new();
        md5.update(&body);
        let info = ObjectInfo { key, size: body.len() as u64, etag: hex(&md5.finalize()), last_modified_ms: now_ms(), attributes };
        if body.len() <= journal::JOURNALED_BODY_LIMIT {
            return self.journal_put(bucket, info, &body);
        }
        let temporary = self.temporary_path();
        let mut file = std::fs::File::create(&temporary)?;
        if let Err(error) = file.write_all(&body) {
            let _ = std::fs::remove_file(&temporary);
            return Err(error.into());
        }
        self.publish_object(bucket, file, temporary, info)
    }

    /// Stores a small object as a journal record: one write and one data sync.
    fn journal_put(self: &Arc<Self>, bucket: &str, info: ObjectInfo, body: &[u8]) -> Result<ObjectInfo, ObjectError> {
        let record = Record::new(&Entry::Put { bucket: bucket.to_owned(), info: info.clone() }, body.len())?;
        let mut journal = self.lock_journal(&record)?;
        let located = {
            let mut buckets = self.write_buckets();
            let entry = buckets.get_mut(bucket).ok_or_else(|| ObjectError::NoSuchBucket(bucket.to_owned()))?;
            let located = journal.append(&record, body)?;
            entry.objects.insert(info.key.clone(), Arc::new(info.clone()));
            entry.journaled.insert(info.key.clone(), located.clone());
            located
        };
        drop(journal);
        located.segment.sync()?;
        Ok(info)
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
    /// rename into place with the index change, directory sync, and a journal record that the
    /// file is now the object (an earlier record of the key must not win when the journal is
    /// replayed). The data is synced before the rename can reach the disk, so a crash leaves the
    /// old object or the whole new one; only `fdatasync` is needed, as the file's other metadata
    /// (times, owner) is not part of it.
    pub(crate) fn publish_object(self: &Arc<Self>, bucket: &str, mut file: std::fs::File, temporary: PathBuf, info: ObjectInfo) -> Result<ObjectInfo, ObjectError> {
        let written = disk::write_trailer(&mut file, &info).and_then(|()| Ok(file.sync_data()?));
        drop(file);
        let published = written.and_then(|()| {
            let record = Record::new(&Entry::Published { bucket: bucket.to_owned(), key: info.key.clone() }, 0)?;
            let mut journal = self.lock_journal(&record)?;
            let directories = {
                let mut buckets = self.write_buckets();
                let entry = buckets.get_mut(bucket).ok_or_else(|| ObjectError::NoSuchBucket(bucket.to_owned()))?;
                self.place_file(entry, bucket, &temporary, info.clone())?
            };
            // The rename must be durable before the record is written: once the record is
            // (another writer's sync may flush it at any time), a replay reads the file.
            sync_directories(&directories)?;
            let located = journal.append(&record, &[])?;
            drop(journal);
            Ok(located.segment.sync()?)
        });
        if published.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        published.map(|()| info)
    }

    /// Renames a written and synced object file into place and indexes it, under the index lock
    /// the caller holds (two writers of one key leave the index naming the file that won).
    /// Returns the directories to sync once the lock is released.
    fn place_file(&self, entry: &mut Bucket, bucket: &str, temporary: &Path, info: ObjectInfo) -> Result<Vec<PathBuf>, ObjectError> {
        let target = self.object_path(bucket, &info.key);
        let directory = target.parent().ok_or_else(|| ObjectError::Io(std::io::Error::other("object path without a directory")))?;
        let mut directories = vec![directory.to_owned()];
        if !directory.exists() {
            std::fs::create_dir_all(directory)?;
            directories.extend(directory.parent().map(Path::to_owned));
        }
        std::fs::rename(temporary, &target)?;
        entry.journaled.remove(&info.key);
        entry.objects.insert(info.key.clone(), Arc::new(info));
        Ok(directories)
    }

    /// Opens an object for reading: its metadata and where its bytes are. The metadata of an
    /// object file is read from the file itself, consistent with the bytes even when a writer
    /// replaces the object meanwhile.
    pub(crate) fn open_object(&self, bucket: &str, key: &str) -> Result<(ObjectInfo, Stored), ObjectError> {
        {
            let buckets = self.read_buckets();
            let entry = buckets.get(bucket).ok_or_else(|| ObjectError::NoSuchBucket(bucket.to_owned()))?;
            // The index has the last word: the file of a deleted key may linger until the
            // journal's record of the delete is materialized.
            let Some(info) = entry.objects.get(key) else { return Err(ObjectError::NoSuchKey(key.to_owned())) };
            if let Some(located) = entry.journaled.get(key) {
                return Ok((ObjectInfo::clone(info), Stored::Journaled(located.clone())));
            }
        }
        let mut file = match std::fs::File::open(self.object_path(bucket, key)) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(ObjectError::NoSuchKey(key.to_owned())),
            Err(error) => return Err(error.into()),
        };
        let info = disk::read_trailer(&mut file)?;
        if info.key != key {
            return Err(ObjectError::NoSuchKey(key.to_owned()));
        }
        Ok((info, Stored::File(file)))
    }

    /// A journaled object's metadata and where its bytes are, from the index alone.
    fn journaled(&self, bucket: &str, key: &str) -> Option<(ObjectInfo, Located)> {
        let buckets = self.read_buckets();
        let entry = buckets.get(bucket)?;
        let located = entry.journaled.get(key)?;
        Some((ObjectInfo::clone(entry.objects.get(key)?), located.clone()))
    }

    pub async fn head(self: &Arc<Self>, bucket: &str, key: &str) -> Result<ObjectInfo, ObjectError> {
        if let Some((info, _)) = self.journaled(bucket, key) {
            return Ok(info);
        }
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |objects| objects.open_object(&bucket, &key).map(|(info, _)| info)).await
    }

    /// The object's metadata and its bytes in `start..end`: read in the same blocking step as
    /// the open when they are few (up to [`GATHERED_BODY_LIMIT`]), else streamed from the file.
    /// A journaled object is read right here: it is small, recently written, and in the page
    /// cache but for memory pressure, so a thread hop would cost more than the read.
    pub async fn read(self: &Arc<Self>, bucket: &str, key: &str, range: impl FnOnce(u64) -> Result<std::ops::Range<u64>, ObjectError> + Send + 'static) -> Result<(ObjectInfo, std::ops::Range<u64>, ObjectStream), ObjectError> {
        if let Some((info, located)) = self.journaled(bucket, key) {
            let range = range(info.size)?;
            let bytes = Bytes::from(located.segment.read(located.offset + range.start, (range.end - range.start) as usize)?);
            return Ok((info, range, Box::pin(futures::stream::iter([Ok(bytes)]))));
        }
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let (info, range, contents) = self
            .blocking(move |objects| {
                let (info, stored) = objects.open_object(&bucket, &key)?;
                let range = range(info.size)?;
                let length = range.end - range.start;
                let contents = match stored {
                    Stored::Journaled(located) => Contents::Read(Bytes::from(located.segment.read(located.offset + range.start, length as usize)?)),
                    Stored::File(mut file) => {
                        file.seek(SeekFrom::Start(range.start))?;
                        if length <= GATHERED_BODY_LIMIT as u64 {
                            let mut bytes = vec![0; length as usize];
                            file.read_exact(&mut bytes)?;
                            Contents::Read(Bytes::from(bytes))
                        } else {
                            Contents::Streamed(file)
                        }
                    }
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

    /// Deletes an object: the key leaves the index and its file is removed, and a journal
    /// record makes that durable (and hides the file should its removal not be).
    pub async fn delete(self: &Arc<Self>, bucket: &str, key: &str) -> Result<(), ObjectError> {
        {
            let buckets = self.read_buckets();
            let entry = buckets.get(bucket).ok_or_else(|| ObjectError::NoSuchBucket(bucket.to_owned()))?;
            // S3 answers a delete of a missing key with success.
            if !entry.objects.contains_key(key) {
                return Ok(());
            }
        }
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |objects| {
            let record = Record::new(&Entry::Deleted { bucket: bucket.clone(), key: key.clone() }, 0)?;
            let mut journal = objects.lock_journal(&record)?;
            let located = {
                let mut buckets = objects.write_buckets();
                let entry = buckets.get_mut(&bucket).ok_or_else(|| ObjectError::NoSuchBucket(bucket.clone()))?;
                if entry.objects.remove(&key).is_none() {
                    return Ok(());
                }
                entry.journaled.remove(&key);
                remove_object_file(&objects.object_path(&bucket, &key))?;
                journal.append(&record, &[])?
            };
            drop(journal);
            Ok(located.segment.sync()?)
        })
        .await
    }

    /// Copies an object; the copy keeps the source's ETag (S3 keeps a multipart ETag as is) and
    /// its attributes unless `attributes` replaces them.
    pub async fn copy(self: &Arc<Self>, source_bucket: &str, source_key: &str, bucket: &str, key: &str, attributes: Option<Attributes>) -> Result<ObjectInfo, ObjectError> {
        self.require_bucket(bucket)?;
        let (source_bucket, source_key, key) = (source_bucket.to_owned(), source_key.to_owned(), key.to_owned());
        let bucket = bucket.to_owned();
        self.blocking(move |objects| {
            let (source, stored) = objects.open_object(&source_bucket, &source_key)?;
            let attributes = attributes.unwrap_or(source.attributes);
            let info = ObjectInfo { key, size: source.size, etag: source.etag, last_modified_ms: now_ms(), attributes };
            let mut reader = match stored {
                Stored::Journaled(located) => return objects.journal_put(&bucket, info, &located.segment.read(located.offset, source.size as usize)?),
                Stored::File(reader) => reader,
            };
            reader.seek(SeekFrom::Start(0))?;
            let temporary = objects.temporary_path();
            let mut file = std::fs::File::create(&temporary)?;
            if let Err(error) = std::io::copy(&mut (&mut reader).take(source.size), &mut file) {
                let _ = std::fs::remove_file(&temporary);
                return Err(error.into());
            }
            objects.publish_object(&bucket, file, temporary, info)
        })
        .await
    }

    pub fn list(&self, bucket: &str, request: &ListRequest<'_>) -> Result<Listing, ObjectError> {
        let buckets = self.read_buckets();
        let entry = buckets.get(bucket).ok_or_else(|| ObjectError::NoSuchBucket(bucket.to_owned()))?;
        Ok(list::list(&entry.objects, request))
    }

    /// Runs blocking file work off the async workers (see [`run_blocking`]).
    pub(crate) async fn blocking<T: Send + 'static>(self: &Arc<Self>, work: impl FnOnce(&Arc<Objects>) -> Result<T, ObjectError> + Send + 'static) -> Result<T, ObjectError> {
        let objects = self.clone();
        run_blocking(move || work(&objects)).await
    }

    /// Hands a full segment to a thread that copies its objects to their own files.
    fn seal(self: &Arc<Self>, segment: Arc<Segment>) {
        self.lock_sealed().push(segment);
        if self.materializing.swap(true, Ordering::AcqRel) {
            return;
        }
        let objects = self.clone();
        let spawned = std::thread::Builder::new().name("objects-materialize".into()).spawn(move || loop {
            objects.materialize_sealed();
            objects.materializing.store(false, Ordering::Release);
            // A segment sealed after the last look, while the flag was still up, is ours too.
            if objects.lock_sealed().is_empty() || objects.materializing.swap(true, Ordering::AcqRel) {
                break;
            }
        });
        if let Err(error) = spawned {
            // The segments stay sealed: the next seal or the next start tries again.
            tracing::warn!(%error, "could not start copying journaled objects to their files");
            self.materializing.store(false, Ordering::Release);
        }
    }

    /// Copies the objects of the sealed segments to their own files, then deletes the segments.
    fn materialize_sealed(&self) {
        loop {
            // Bound by `let`, not `while let`, so that the lock is not held while copying: the
            // end of the loop and every `seal` take it again.
            let Some(segment) = self.lock_sealed().first().cloned() else { return };
            if let Err(error) = self.materialize(&segment) {
                // Kept for the next start: its records are replayed until they are materialized.
                tracing::warn!(segment = %segment.path.display(), %error, "copying journaled objects to their files failed");
                return;
            }
            self.lock_sealed().retain(|sealed| sealed.number != segment.number);
        }
    }

    /// Brings the object files up to date with the records of `segment` (its objects still in
    /// the journal get their files; deleted keys lose theirs), so that it can be deleted.
    fn materialize(&self, segment: &Arc<Segment>) -> Result<(), ObjectError> {
        let mut records = Vec::new();
        journal::scan(segment.clone(), |entry, located| records.push((entry, located)))?;
        for (entry, located) in records {
            match entry {
                Entry::Put { bucket, info } => self.materialize_put(&bucket, info, located)?,
                Entry::Deleted { bucket, key } => {
                    let path = self.object_path(&bucket, &key);
                    let deleted = {
                        let buckets = self.write_buckets();
                        let deleted = buckets.get(&bucket).is_some_and(|entry| !entry.objects.contains_key(&key));
                        if deleted {
                            remove_object_file(&path)?;
                        }
                        deleted
                    };
                    if let Some(directory) = path.parent().filter(|_| deleted) {
                        disk::sync_directory(directory)?;
                    }
                }
                Entry::Published { .. } => {}
            }
        }
        std::fs::remove_file(&segment.path)?;
        match segment.path.parent() {
            Some(directory) => Ok(disk::sync_directory(directory)?),
            None => Ok(()),
        }
    }

    /// Writes a journaled object to its own file, unless the key changed since the record.
    fn materialize_put(&self, bucket: &str, info: ObjectInfo, located: Located) -> Result<(), ObjectError> {
        let key = info.key.clone();
        let current = |buckets: &Buckets| buckets.get(bucket).and_then(|entry| entry.journaled.get(&key)) == Some(&located);
        if !current(&self.read_buckets()) {
            return Ok(());
        }
        let temporary = self.temporary_path();
        let written = (|| {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&located.segment.read(located.offset, info.size as usize)?)?;
            disk::write_trailer(&mut file, &info)?;
            Ok::<_, ObjectError>(file.sync_data()?)
        })();
        let placed = written.and_then(|()| {
            let mut buckets = self.write_buckets();
            if !current(&buckets) {
                return Ok(Vec::new());
            }
            let entry = buckets.get_mut(bucket).ok_or_else(|| ObjectError::NoSuchBucket(bucket.to_owned()))?;
            self.place_file(entry, bucket, &temporary, info)
        });
        match placed {
            Ok(directories) if !directories.is_empty() => sync_directories(&directories),
            other => {
                let _ = std::fs::remove_file(&temporary);
                other.map(|_| ())
            }
        }
    }
}

fn object_path(root: &Path, bucket: &str, key: &str) -> PathBuf {
    let digest = hex(&Sha256::digest(key.as_bytes()));
    root.join("buckets").join(bucket).join(&digest[..2]).join(&digest)
}

fn sync_directories(directories: &[PathBuf]) -> Result<(), ObjectError> {
    directories.iter().try_for_each(|directory| disk::sync_directory(directory)).map_err(ObjectError::from)
}

fn remove_object_file(path: &Path) -> Result<(), ObjectError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}

/// Applies one journal record to the index built from the object files, at start.
fn replay(root: &Path, buckets: &mut Buckets, entry: Entry, located: Located) {
    match entry {
        Entry::Put { bucket, info } => {
            if let Some(entry) = buckets.get_mut(&bucket) {
                entry.journaled.insert(info.key.clone(), located);
                entry.objects.insert(info.key.clone(), Arc::new(info));
            }
        }
        Entry::Published { bucket, key } => {
            if let Some(entry) = buckets.get_mut(&bucket) {
                entry.journaled.remove(&key);
                // The file was synced in place before the record was written.
                match disk::read_info(&object_path(root, &bucket, &key)) {
                    Ok(info) if info.key == key => entry.objects.insert(key, Arc::new(info)),
                    _ => entry.objects.remove(&key),
                };
            }
        }
        Entry::Deleted { bucket, key } => {
            if let Some(entry) = buckets.get_mut(&bucket) {
                entry.journaled.remove(&key);
                entry.objects.remove(&key);
            }
        }
    }
}

/// Runs blocking file work off the async workers. On the multi-threaded runtime it runs right
/// here while this worker's other tasks move to another thread: a small PUT or GET is a few
/// hundred microseconds of work, and the hop to the blocking pool and back would add a good
/// share of that to every request (the current-thread runtime cannot do this).
pub(crate) async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, ObjectError> + Send + 'static) -> Result<T, ObjectError> {
    if tokio::runtime::Handle::try_current().is_ok_and(|runtime| runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread) {
        return tokio::task::block_in_place(work);
    }
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
    Ok(Bucket { created_ms, objects, journaled: HashMap::new() })
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
