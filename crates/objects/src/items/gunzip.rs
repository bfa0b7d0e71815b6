//! Gzipped objects decompressed as they stream in. AWS's ItemReader reads an object as GZIP when
//! its key ends in `.gz` (S3 inventory data files are `*.csv.gz`).

use bytes::Bytes;
use flate2::write::MultiGzDecoder;
use futures::{Stream, TryStreamExt};
use std::io::Write;

/// Whether an object's bytes are gzipped, by its key as AWS tells them.
pub(super) fn is_gzipped(key: &str) -> bool {
    key.ends_with(".gz")
}

/// The decompressed bytes of a gzipped byte stream (every member of a multi-member file), a
/// chunk for each compressed chunk that yields output: the stream is never held whole.
pub(super) fn gunzip<S>(compressed: S) -> impl Stream<Item = std::io::Result<Bytes>> + Send
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
{
    // The decoder pushes its output into a Vec (flate2's write side), taken after each chunk;
    // None once the end of the input has been decoded.
    let decoder = Some(MultiGzDecoder::new(Vec::new()));
    futures::stream::try_unfold((compressed, decoder), |(mut compressed, mut decoder)| async move {
        while let Some(active) = decoder.as_mut() {
            let output = match compressed.try_next().await? {
                Some(chunk) => {
                    active.write_all(&chunk)?;
                    active.flush()?;
                    std::mem::take(active.get_mut())
                }
                None => decoder.take().map(MultiGzDecoder::finish).transpose()?.unwrap_or_default(),
            };
            if !output.is_empty() {
                return Ok(Some((Bytes::from(output), (compressed, decoder))));
            }
        }
        Ok(None)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;

    fn gzipped(text: &str) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    #[tokio::test]
    async fn members_split_across_chunks_decompress_in_order() {
        let file = [gzipped("first member\n"), gzipped("second member\n")].concat();
        let chunks: Vec<std::io::Result<Bytes>> = file.chunks(7).map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
        let text: Vec<Bytes> = gunzip(futures::stream::iter(chunks)).try_collect().await.unwrap();
        assert_eq!(text.concat(), b"first member\nsecond member\n");
    }

    #[tokio::test]
    async fn bytes_that_are_not_gzip_are_an_error() {
        let chunks = futures::stream::iter([Ok(Bytes::from_static(b"plain text, not gzip"))]);
        assert!(gunzip(chunks).try_collect::<Vec<Bytes>>().await.is_err());
    }
}
