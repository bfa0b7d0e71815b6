//! The journal: small writes made durable with one cheap flush.
//!
//! Publishing an object file costs two journal commits of the filesystem (the new file's data and
//! the rename in its directory); on ext4 that is most of a small PUT. Small objects are instead
//! appended, whole, to a segment file that was filled with zeros and synced when it was created:
//! writing into it changes no file metadata, so the `fdatasync` that acknowledges the PUT flushes
//! only the record's data blocks. Deletes and the publication of object files are journaled too
//! (without data), so that replaying the journal in order gives the index the last word on every
//! key. The store copies journaled objects into their own files later (see `store`), after which a
//! segment is deleted.
//!
//! A record is a header (magic, checksum, lengths), its [`Entry`] as JSON and the object's bytes.
//! The checksum (CRC-32) covers the lengths, the entry and the bytes and is seeded with the
//! previous record's checksum (the first with the segment number): a scan stops at the first
//! record that is incomplete, torn by a crash, or left over from before the segment was reused
//! past a torn end — it cannot continue the chain.

use crate::disk::ObjectInfo;
use crate::ObjectError;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The size of a segment file, allocated whole when it is created.
const SEGMENT_SIZE: u64 = 16 << 20;
/// Bodies up to this size are journaled; larger ones are written to their own file directly
/// (their data write dominates, and a segment holds many records).
pub const JOURNALED_BODY_LIMIT: usize = 128 << 10;
const MAGIC: &[u8; 4] = b"SWJ1";
/// Magic, checksum, entry length (u32) and body length (u32).
const HEADER_LEN: usize = 4 + 4 + 4 + 4;
static ZEROS: [u8; 1 << 16] = [0; 1 << 16];

/// What a record says happened to a key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "camelCase")]
pub enum Entry {
    /// The object, with its bytes following the entry in the record.
    Put { bucket: String, info: ObjectInfo },
    /// The key's object file was replaced (a large PUT, a copy, a multipart upload): the file is
    /// the object, not an earlier record.
    Published { bucket: String, key: String },
    Deleted { bucket: String, key: String },
}

/// One segment file, kept open for appends and reads.
pub struct Segment {
    pub number: u64,
    pub path: PathBuf,
    file: File,
}

impl Segment {
    /// Makes every record appended so far durable. Only data blocks change: the file's size and
    /// allocation were synced when it was created.
    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Reads `length` bytes at `offset` (an object's bytes in a record).
    pub fn read(&self, offset: u64, length: usize) -> std::io::Result<Vec<u8>> {
        let mut bytes = vec![0; length];
        self.file.read_exact_at(&mut bytes, offset)?;
        Ok(bytes)
    }
}

/// Where a journaled object's bytes are.
#[derive(Clone)]
pub struct Located {
    pub segment: Arc<Segment>,
    /// The first byte of the object in the segment.
    pub offset: u64,
}

impl PartialEq for Located {
    fn eq(&self, other: &Located) -> bool {
        self.segment.number == other.segment.number && self.offset == other.offset
    }
}

/// The segments: the one appended to, and where the next one goes.
pub struct Journal {
    directory: PathBuf,
    active: Option<Active>,
    next_number: u64,
}

impl Journal {
    /// Opens the journal in `directory`, replaying every record into `apply`, oldest first.
    /// Appends resume in the newest segment; the older ones are returned: full segments whose
    /// objects may not all be in their own files yet.
    pub fn open(directory: &Path, mut apply: impl FnMut(Entry, Located)) -> Result<(Journal, Vec<Arc<Segment>>), ObjectError> {
        if !directory.exists() {
            std::fs::create_dir_all(directory)?;
            // Acknowledged records live in it: its own entry must survive a power loss too.
            if let Some(parent) = directory.parent() {
                crate::disk::sync_directory(parent)?;
            }
        }
        let mut sealed = Vec::new();
        let mut active = None;
        for segment in segments(directory)? {
            let resumed = scan(segment, &mut apply)?;
            sealed.extend(active.replace(resumed).map(|previous: Active| previous.segment));
        }
        let next_number = active.as_ref().map_or(0, |active| active.segment.number + 1);
        Ok((Journal { directory: directory.to_owned(), active, next_number }, sealed))
    }

    /// Whether a record with a body of `body_len` bytes (and any entry S3 allows: a key up to
    /// 1 KiB, user metadata up to 2 KiB) fits in the active segment without starting a new one.
    pub fn has_room_for(&self, body_len: usize) -> bool {
        const LARGEST_ENTRY: u64 = 8 << 10;
        self.active.as_ref().is_some_and(|active| active.end + HEADER_LEN as u64 + LARGEST_ENTRY + body_len as u64 <= SEGMENT_SIZE)
    }

    /// Makes sure `record` fits in the active segment, starting a new one when it does not; the
    /// full one it replaced is returned.
    pub fn make_room(&mut self, record: &Record) -> Result<Option<Arc<Segment>>, ObjectError> {
        if self.active.as_ref().is_some_and(|active| active.fits(record)) {
            return Ok(None);
        }
        if record.len() > SEGMENT_SIZE {
            return Err(ObjectError::InvalidArgument("The object's metadata is too large".into()));
        }
        let next = create_segment(&self.directory, self.next_number)?;
        self.next_number += 1;
        Ok(self.active.replace(next).map(|full| full.segment))
    }

    /// Appends `record` with `body` (see [`Active::append`]) after [`Journal::make_room`].
    pub fn append(&mut self, record: &Record, body: &[u8]) -> Result<Located, ObjectError> {
        match self.active.as_mut() {
            Some(active) if active.fits(record) => active.append(record, body),
            _ => Err(ObjectError::Io(std::io::Error::other("no room was made in the journal for a record"))),
        }
    }
}

/// The segment being appended to.
pub struct Active {
    pub segment: Arc<Segment>,
    end: u64,
    last_checksum: u32,
}

fn segment_path(directory: &Path, number: u64) -> PathBuf {
    directory.join(format!("{number:020}.log"))
}

/// The segments in `directory`, oldest first.
fn segments(directory: &Path) -> Result<Vec<Arc<Segment>>, ObjectError> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(directory)? {
        let name = entry?.file_name();
        if let Some(number) = name.to_str().and_then(|name| name.strip_suffix(".log")).and_then(|number| number.parse::<u64>().ok()) {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    numbers
        .into_iter()
        .map(|number| {
            let path = segment_path(directory, number);
            let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
            Ok(Arc::new(Segment { number, path, file }))
        })
        .collect()
}

/// Creates segment `number`: zero-filled to its full size and synced, with its directory entry,
/// before any record goes in.
fn create_segment(directory: &Path, number: u64) -> Result<Active, ObjectError> {
    let path = segment_path(directory, number);
    let building = path.with_extension("new");
    let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&building)?;
    for _ in 0..SEGMENT_SIZE / ZEROS.len() as u64 {
        file.write_all(&ZEROS)?;
    }
    file.sync_all()?;
    std::fs::rename(&building, &path)?;
    crate::disk::sync_directory(directory)?;
    Ok(Active { segment: Arc::new(Segment { number, path, file }), end: 0, last_checksum: seed(number) })
}

fn seed(number: u64) -> u32 {
    // Both halves, so that segments 2^32 apart still differ.
    (number ^ (number >> 32)) as u32
}

fn checksum(previous: u32, entry: &[u8], body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(previous);
    hasher.update(&(entry.len() as u32).to_le_bytes());
    hasher.update(&(body.len() as u32).to_le_bytes());
    hasher.update(entry);
    hasher.update(body);
    hasher.finalize()
}

/// An encoded record, ready to be appended.
pub struct Record {
    entry: Vec<u8>,
    body_len: usize,
}

impl Record {
    pub fn new(entry: &Entry, body_len: usize) -> Result<Record, ObjectError> {
        Ok(Record { entry: serde_json::to_vec(entry).map_err(std::io::Error::other)?, body_len })
    }

    fn len(&self) -> u64 {
        (HEADER_LEN + self.entry.len() + self.body_len) as u64
    }
}

impl Active {
    /// Whether `record` fits in what is left of the segment.
    fn fits(&self, record: &Record) -> bool {
        self.end + record.len() <= SEGMENT_SIZE
    }

    /// Writes `record` with `body` at the end of the segment (one write, not yet synced) and
    /// says where the body lies. The caller checked that it [`fits`](Active::fits).
    fn append(&mut self, record: &Record, body: &[u8]) -> Result<Located, ObjectError> {
        let checksum = checksum(self.last_checksum, &record.entry, body);
        let mut bytes = Vec::with_capacity(record.len() as usize);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        bytes.extend_from_slice(&(record.entry.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&record.entry);
        bytes.extend_from_slice(body);
        self.segment.file.write_all_at(&bytes, self.end)?;
        let offset = self.end + (HEADER_LEN + record.entry.len()) as u64;
        self.end += bytes.len() as u64;
        self.last_checksum = checksum;
        Ok(Located { segment: self.segment.clone(), offset })
    }

}

/// Reads the records of `segment` in order, until the first that is not whole and chained, and
/// hands each entry and where its body lies to `apply`. Returns the segment, positioned for
/// appending after its last whole record.
pub fn scan(segment: Arc<Segment>, mut apply: impl FnMut(Entry, Located)) -> Result<Active, ObjectError> {
    let mut end = 0u64;
    let mut last_checksum = seed(segment.number);
    let size = segment.file.metadata()?.len();
    let mut header = [0u8; HEADER_LEN];
    while end + HEADER_LEN as u64 <= size {
        segment.file.read_exact_at(&mut header, end)?;
        let word = |at: usize| u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        let (stored_checksum, entry_len, body_len) = (word(4), word(8) as usize, word(12) as usize);
        if &header[..4] != MAGIC || end + (HEADER_LEN + entry_len + body_len) as u64 > size {
            break;
        }
        let mut record = vec![0u8; entry_len + body_len];
        segment.file.read_exact_at(&mut record, end + HEADER_LEN as u64)?;
        let (entry, body) = record.split_at(entry_len);
        if checksum(last_checksum, entry, body) != stored_checksum {
            break;
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(entry) else { break };
        apply(entry, Located { segment: segment.clone(), offset: end + (HEADER_LEN + entry_len) as u64 });
        last_checksum = stored_checksum;
        end += (HEADER_LEN + entry_len + body_len) as u64;
    }
    Ok(Active { segment, end, last_checksum })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::Attributes;

    fn put(key: &str, size: u64) -> Entry {
        Entry::Put { bucket: "b".into(), info: ObjectInfo { key: key.into(), size, etag: String::new(), last_modified_ms: 0, attributes: Attributes::default() } }
    }

    fn keys(segment: Arc<Segment>) -> (Vec<String>, Active) {
        let mut keys = Vec::new();
        let active = scan(segment, |entry, located| {
            if let Entry::Put { info, .. } = entry {
                let bytes = located.segment.read(located.offset, info.size as usize).unwrap();
                keys.push(format!("{}={}", info.key, String::from_utf8(bytes).unwrap()));
            }
        })
        .unwrap();
        (keys, active)
    }

    #[test]
    fn a_scan_finds_the_appended_records_and_stops_at_a_torn_one() {
        let directory = std::env::temp_dir().join(format!("objects-journal-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&directory).unwrap();
        let mut active = create_segment(&directory, 7).unwrap();
        for (key, body) in [("a", "one"), ("b", "two"), ("c", "three")] {
            let record = Record::new(&put(key, body.len() as u64), body.len()).unwrap();
            active.append(&record, body.as_bytes()).unwrap();
        }
        active.segment.sync().unwrap();
        let segment = segments(&directory).unwrap().pop().unwrap();
        let (found, _) = keys(segment.clone());
        assert_eq!(found, ["a=one", "b=two", "c=three"]);

        // A crash tore "b": "c" after it is not replayed either, and appending resumes at "b",
        // where a record shorter than the torn one leaves old bytes behind it that a scan skips.
        let mut offsets = Vec::new();
        scan(segment.clone(), |_, located| offsets.push(located.offset)).unwrap();
        segment.file.write_all_at(b"X", offsets[1]).unwrap();
        let (found, mut resumed) = keys(segment.clone());
        assert_eq!(found, ["a=one"]);
        let record = Record::new(&put("d", 1), 1).unwrap();
        resumed.append(&record, b"4").unwrap();
        let (found, _) = keys(segment);
        assert_eq!(found, ["a=one", "d=4"]);
        std::fs::remove_dir_all(directory).unwrap();
    }
}
