//! Small objects go through the journal: what a restart finds, what becomes of a full segment,
//! and what a `kill -9` in the middle of writes leaves.

use bytes::Bytes;
use objects::{Attributes, ListRequest, ObjectError, Objects};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn directory() -> PathBuf {
    std::env::temp_dir().join(format!("objects-journal-{}", uuid::Uuid::new_v4()))
}

fn body(bytes: Vec<u8>) -> futures::stream::Iter<std::array::IntoIter<Result<Bytes, ObjectError>, 1>> {
    futures::stream::iter([Ok(Bytes::from(bytes))])
}

async fn read(objects: &Arc<Objects>, key: &str) -> Result<Vec<u8>, ObjectError> {
    let (_, _, stream) = objects.read("data", key, |size| Ok(0..size)).await?;
    let chunks: Vec<Bytes> = futures::TryStreamExt::try_collect(stream).await.map_err(ObjectError::Io)?;
    Ok(chunks.concat())
}

fn keys(objects: &Objects) -> Vec<String> {
    let everything = ListRequest { prefix: "", delimiter: None, start_after: None, continuation_token: None, max_keys: 1000 };
    objects.list("data", &everything).unwrap().objects.iter().map(|info| info.key.clone()).collect()
}

fn segment_files(root: &Path) -> usize {
    std::fs::read_dir(root.join("journal")).unwrap().filter(|entry| entry.as_ref().unwrap().path().extension().is_some_and(|extension| extension == "log")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn journaled_puts_deletes_and_files_replace_each_other_in_order_across_a_restart() {
    let root = directory();
    {
        let objects = Arc::new(Objects::open(&root).unwrap());
        objects.create_bucket("data").unwrap();
        objects.put("data", "small-then-large", body(b"small".to_vec()), Attributes::default()).await.unwrap();
        objects.put("data", "small-then-large", body(vec![7; 200 << 10]), Attributes::default()).await.unwrap();
        objects.put("data", "large-then-small", body(vec![8; 200 << 10]), Attributes::default()).await.unwrap();
        objects.put("data", "large-then-small", body(b"small again".to_vec()), Attributes::default()).await.unwrap();
        objects.put("data", "deleted", body(b"gone".to_vec()), Attributes::default()).await.unwrap();
        objects.delete("data", "deleted").await.unwrap();
        let typed = Attributes { content_type: Some("text/plain".into()), ..Attributes::default() };
        objects.put("data", "source", body(b"0123456789".to_vec()), typed).await.unwrap();
        objects.copy("data", "source", "data", "copy", None).await.unwrap();
        let (info, range, _) = objects.read("data", "source", |_| Ok(2..5)).await.unwrap();
        assert_eq!((info.size, range), (10, 2..5));
    }
    let objects = Arc::new(Objects::open(&root).unwrap());
    assert_eq!(keys(&objects), ["copy", "large-then-small", "small-then-large", "source"]);
    assert_eq!(read(&objects, "small-then-large").await.unwrap(), vec![7; 200 << 10]);
    assert_eq!(read(&objects, "large-then-small").await.unwrap(), b"small again");
    assert!(matches!(read(&objects, "deleted").await, Err(ObjectError::NoSuchKey(_))));
    assert_eq!(read(&objects, "copy").await.unwrap(), b"0123456789");
    assert_eq!(objects.head("data", "copy").await.unwrap().attributes.content_type.as_deref(), Some("text/plain"));
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn full_segments_are_copied_to_object_files_and_deleted() {
    let root = directory();
    let content = |index: usize| vec![index as u8; 128 << 10];
    // 16 MiB segments: 300 records of 128 KiB fill two, one sealed while the other is copied.
    let count = 300;
    {
        let objects = Arc::new(Objects::open(&root).unwrap());
        objects.create_bucket("data").unwrap();
        for index in 0..count {
            objects.put("data", &format!("object-{index:03}"), body(content(index)), Attributes::default()).await.unwrap();
        }
        objects.delete("data", "object-000").await.unwrap();
        let started = Instant::now();
        while segment_files(&root) > 1 {
            assert!(started.elapsed() < Duration::from_secs(60), "the full segment was not materialized");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(read(&objects, "object-001").await.unwrap(), content(1));
    }
    let files = std::fs::read_dir(root.join("buckets/data")).unwrap().filter_map(|entry| entry.ok()).filter(|entry| entry.path().is_dir()).map(|fanout| std::fs::read_dir(fanout.path()).unwrap().count()).sum::<usize>();
    assert!(files >= 100, "only {files} object files");
    let objects = Arc::new(Objects::open(&root).unwrap());
    assert_eq!(keys(&objects).len(), count - 1);
    for index in [1, 50, count - 1] {
        assert_eq!(read(&objects, &format!("object-{index:03}")).await.unwrap(), content(index));
    }
    std::fs::remove_dir_all(root).unwrap();
}

/// A body that says which writer, key and version it is, so that a reader can tell a whole
/// object from a torn or misplaced one.
fn tagged(writer: u64, key: u64, version: u64, size: usize) -> Vec<u8> {
    let mut bytes = [writer, key, version].iter().flat_map(|field| field.to_le_bytes()).collect::<Vec<u8>>();
    bytes.resize(size.max(24), (writer ^ key ^ version) as u8);
    bytes
}

fn is_whole(bytes: &[u8], writer: u64, key: u64) -> bool {
    let field = |index: usize| bytes.get(index * 8..index * 8 + 8).map(|slice| u64::from_le_bytes(slice.try_into().unwrap()));
    match (field(0), field(1), field(2)) {
        (Some(found_writer), Some(found_key), Some(version)) => found_writer == writer && found_key == key && bytes == tagged(writer, key, version, bytes.len()),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_deletes_and_reads_stay_whole_while_segments_are_sealed_and_copied() {
    const WRITERS: u64 = 6;
    const KEYS: u64 = 8;
    const OPERATIONS: u64 = 400;
    let root = directory();
    let objects = Arc::new(Objects::open(&root).unwrap());
    objects.create_bucket("data").unwrap();
    let name = |writer: u64, key: u64| format!("writer-{writer}/key-{key}");
    let tasks = (0..WRITERS).map(|writer| {
        let objects = objects.clone();
        tokio::spawn(async move {
            // Each writer owns its keys (so the last version of each is known) and reads everyone's.
            let mut last = std::collections::HashMap::new();
            let mut state = writer * 7919 + 1;
            let mut next = move |bound: u64| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state % bound
            };
            for version in 1..=OPERATIONS {
                let key = next(KEYS);
                match next(10) {
                    0 => {
                        objects.delete("data", &name(writer, key)).await.unwrap();
                        last.insert(key, None);
                    }
                    1..=5 => {
                        let size = [100, 4 << 10, 60 << 10, 120 << 10, 140 << 10][next(5) as usize];
                        objects.put("data", &name(writer, key), body(tagged(writer, key, version, size)), Attributes::default()).await.unwrap();
                        last.insert(key, Some((version, size)));
                    }
                    _ => {
                        let (other, other_key) = (next(WRITERS), next(KEYS));
                        match read(&objects, &name(other, other_key)).await {
                            Ok(bytes) => assert!(is_whole(&bytes, other, other_key), "a torn or misplaced read of {}", name(other, other_key)),
                            Err(ObjectError::NoSuchKey(_)) => {}
                            Err(error) => panic!("reading {}: {error}", name(other, other_key)),
                        }
                    }
                }
            }
            last
        })
    });
    let mut expected = Vec::new();
    for (writer, task) in (0..WRITERS).zip(tasks.collect::<Vec<_>>()) {
        expected.extend(task.await.unwrap().into_iter().map(|(key, last)| (writer, key, last)));
    }
    let newest_segment = std::fs::read_dir(root.join("journal")).unwrap().filter_map(|entry| entry.unwrap().path().file_stem()?.to_str()?.parse::<u64>().ok()).max();
    assert!(newest_segment >= Some(2), "two segments (from 0) sealed while the tasks ran, not {newest_segment:?}");
    drop(objects);
    let objects = Arc::new(Objects::open(&root).unwrap());
    for (writer, key, last) in expected {
        match (read(&objects, &name(writer, key)).await, last) {
            (Ok(bytes), Some((version, size))) => assert_eq!(bytes, tagged(writer, key, version, size), "{}", name(writer, key)),
            (Err(ObjectError::NoSuchKey(_)), None) => {}
            (found, last) => panic!("{}: found {:?} after a restart, expected {last:?}", name(writer, key), found.map(|bytes| bytes.len())),
        }
    }
    std::fs::remove_dir_all(root).unwrap();
}

/// Set for the writer process the crash test starts (the same test, in writer mode).
const CRASH_ROOT: &str = "OBJECTS_CRASH_ROOT";
const CRASH_TEST: &str = "a_kill_during_writes_loses_nothing_acknowledged";

/// The writer the crash test kills: PUTs keys over and over (small ones journaled, some large
/// ones in their own files) and prints each acknowledged version.
async fn write_until_killed(root: &Path) {
    let objects = Arc::new(Objects::open(root).unwrap());
    let _ = objects.create_bucket("data");
    let mut tasks = Vec::new();
    for writer in 0..4u64 {
        let objects = objects.clone();
        tasks.push(tokio::spawn(async move {
            for version in 0u64.. {
                let key = format!("key-{writer}-{}", version % 20);
                objects.put("data", &key, body(versioned(version)), Attributes::default()).await.unwrap();
                println!("{key} {version}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Version `version`'s bytes: every 10th is large (a file), the others small (journaled).
fn versioned(version: u64) -> Vec<u8> {
    let size = if version % 10 == 9 { 300 << 10 } else { 4096 };
    let mut bytes = version.to_le_bytes().repeat(size / 8);
    bytes.truncate(size);
    bytes
}

/// Not a tokio test: the writer and the checker each build the runtime they run on.
#[test]
fn a_kill_during_writes_loses_nothing_acknowledged() {
    let runtime = |workers| tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap();
    match std::env::var_os(CRASH_ROOT) {
        Some(root) => runtime(2).block_on(write_until_killed(Path::new(&root))),
        None => runtime(1).block_on(kill_writers_and_check()),
    }
}

async fn kill_writers_and_check() {
    let root = directory();
    for round in 0..3u64 {
        let mut writer = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", CRASH_TEST, "--nocapture", "--test-threads", "1"])
            .env(CRASH_ROOT, &root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let lines = std::io::BufReader::new(writer.stdout.take().unwrap());
        let (acknowledged_sender, acknowledged) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if let Some((key, version)) = line.split_once(' ').and_then(|(key, version)| Some((key.to_owned(), version.parse::<u64>().ok()?))) {
                    let _ = acknowledged_sender.send((key, version));
                }
            }
        });
        // Killed at a different point of its writes each round.
        std::thread::sleep(Duration::from_millis(400 + 350 * round));
        writer.kill().unwrap();
        writer.wait().unwrap();
        reader.join().unwrap();
        let mut last = std::collections::HashMap::new();
        for (key, version) in acknowledged.try_iter() {
            last.insert(key, version);
        }
        assert!(!last.is_empty(), "round {round}: the writer acknowledged nothing");
        let objects = Arc::new(Objects::open(&root).unwrap());
        for (key, acknowledged) in &last {
            let bytes = read(&objects, key).await.unwrap_or_else(|error| panic!("round {round}: {key} lost: {error}"));
            let version = u64::from_le_bytes(bytes[..8].try_into().unwrap());
            // The acknowledged version, or a later one whose PUT the kill interrupted.
            assert!(version >= *acknowledged, "round {round}: {key} went back from {acknowledged} to {version}");
            assert_eq!(bytes, versioned(version), "round {round}: {key} is not whole");
        }
    }
    std::fs::remove_dir_all(root).unwrap();
}
