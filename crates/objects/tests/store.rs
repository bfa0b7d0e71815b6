//! The embedded store through its Rust API: what a restart finds, multipart ETags, copies.

use bytes::Bytes;
use objects::{Attributes, ListRequest, ObjectError, Objects};
use std::sync::Arc;

fn directory() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("objects-store-{}", uuid::Uuid::new_v4()))
}

fn body(bytes: &'static [u8]) -> futures::stream::Iter<std::array::IntoIter<Result<Bytes, ObjectError>, 1>> {
    futures::stream::iter([Ok(Bytes::from_static(bytes))])
}

fn everything() -> ListRequest<'static> {
    ListRequest { prefix: "", delimiter: None, start_after: None, continuation_token: None, max_keys: 1000 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn what_was_acknowledged_is_found_again_after_a_restart() {
    let root = directory();
    {
        let objects = Arc::new(Objects::open(&root).unwrap());
        objects.create_bucket("data").unwrap();
        objects.put("data", "a/1.json", body(b"{\"n\":1}"), Attributes { content_type: Some("application/json".into()), ..Attributes::default() }).await.unwrap();
        objects.put("data", "a/2.json", body(b"{\"n\":2}"), Attributes::default()).await.unwrap();
        objects.put("data", "a/2.json", body(b"{\"n\":22}"), Attributes::default()).await.unwrap();
        objects.delete("data", "a/1.json").await.unwrap();
    }
    // A write cut by a crash leaves only a temporary file, dropped at the next start.
    std::fs::write(root.join("tmp").join("interrupted"), b"partial").unwrap();
    let objects = Arc::new(Objects::open(&root).unwrap());
    let listing = objects.list("data", &everything()).unwrap();
    assert_eq!(listing.objects.iter().map(|info| info.key.as_str()).collect::<Vec<_>>(), ["a/2.json"]);
    assert_eq!(objects.head("data", "a/2.json").await.unwrap().size, 8);
    assert!(matches!(objects.head("data", "a/1.json").await, Err(ObjectError::NoSuchKey(_))));
    assert!(std::fs::read_dir(root.join("tmp")).unwrap().next().is_none());
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_multipart_object_has_s3s_etag_and_the_parts_bytes_in_order() {
    let root = directory();
    let objects = Arc::new(Objects::open(&root).unwrap());
    objects.create_bucket("data").unwrap();
    let upload = objects.create_upload("data", "big", Attributes::default()).unwrap();
    let first = vec![b'a'; 5 << 20];
    let part1 = objects.upload_part("data", "big", &upload, 1, futures::stream::iter([Ok::<_, ObjectError>(Bytes::from(first.clone()))])).await.unwrap();
    let part2 = objects.upload_part("data", "big", &upload, 2, body(b"tail")).await.unwrap();
    let info = objects.complete_upload("data", "big", &upload, vec![(1, Some(format!("\"{}\"", part1.etag))), (2, None)]).await.unwrap();
    // S3's multipart ETag of these two parts, as computed by boto3-based tools.
    let md5 = |bytes: &[u8]| <s3s::crypto::Md5 as s3s::crypto::Checksum>::checksum(bytes);
    let joined: Vec<u8> = [md5(&first), md5(b"tail")].concat();
    let expected: String = md5(&joined).iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(info.etag, format!("{expected}-2"));
    assert_eq!(info.size, (5 << 20) + 4);
    assert_eq!(part2.etag, md5(b"tail").iter().map(|byte| format!("{byte:02x}")).collect::<String>());
    let too_small = objects.create_upload("data", "small", Attributes::default()).unwrap();
    objects.upload_part("data", "small", &too_small, 1, body(b"x")).await.unwrap();
    objects.upload_part("data", "small", &too_small, 2, body(b"y")).await.unwrap();
    assert!(matches!(objects.complete_upload("data", "small", &too_small, vec![(1, None), (2, None)]).await, Err(ObjectError::EntityTooSmall)));
    assert!(matches!(objects.complete_upload("data", "small", &too_small, vec![(2, None), (1, None)]).await, Err(ObjectError::InvalidPartOrder)));
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn small_bodies_written_at_once_and_large_ones_streamed_read_back_the_same() {
    let root = directory();
    let objects = Arc::new(Objects::open(&root).unwrap());
    objects.create_bucket("data").unwrap();
    // Bodies arrive in chunks; past 1 MiB the store stops gathering them and streams to a file.
    let chunked = |size: usize| {
        let bytes: Vec<u8> = (0..size).map(|at| (at % 251) as u8).collect();
        let chunks: Vec<Result<Bytes, ObjectError>> = bytes.chunks(64 << 10).map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
        (bytes, futures::stream::iter(chunks))
    };
    for (key, size) in [("small", 4096), ("empty", 0), ("large", (3 << 20) + 5)] {
        let (bytes, stream) = chunked(size);
        let info = objects.put("data", key, stream, Attributes::default()).await.unwrap();
        assert_eq!(info.size, size as u64, "{key}");
        let md5 = <s3s::crypto::Md5 as s3s::crypto::Checksum>::checksum(&bytes);
        assert_eq!(info.etag, md5.iter().map(|byte| format!("{byte:02x}")).collect::<String>(), "{key}");
        let (read, range, stream) = objects.read("data", key, |size| Ok(0..size)).await.unwrap();
        let chunks: Vec<Bytes> = futures::TryStreamExt::try_collect(stream).await.unwrap();
        assert_eq!((read, range), (info, 0..size as u64), "{key}");
        assert_eq!(chunks.concat(), bytes, "{key}");
    }
    std::fs::remove_dir_all(root).unwrap();
}
