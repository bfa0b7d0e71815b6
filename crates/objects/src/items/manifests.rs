//! Items from the data files a manifest lists, read file after file with a cursor that names
//! the file and the offset in it, so no more than a page of one file is read at a time:
//! - an S3 inventory (`InputType: MANIFEST`, or `ManifestType: S3_INVENTORY`): `manifest.json`
//!   lists the inventory's CSV files (gzipped) under `files`, in the inventory's destination
//!   bucket; each row is an item whose fields are the columns `fileSchema` names (`Bucket`,
//!   `Key`, `Size`, ...), values as strings;
//! - an Athena data manifest (`ManifestType: ATHENA_DATA` with `InputType` CSV or JSONL): the
//!   `<query id>-manifest.csv` an UNLOAD query writes, one `s3://bucket/key` data file a line.

use super::lines::{read_lines, read_whole, Headers, LineCursor, LineFormat};
use super::{parse_cursor, ReaderFailure};
use crate::ObjectStore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which manifest an ItemReader reads.
pub(super) enum Manifest {
    S3Inventory,
    /// Data files in the format of the reader's InputType.
    AthenaData(LineFormat),
}

/// The Map's cursor over the files of a manifest: `{"File", "Offset", "Headers"}`.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct FilesCursor {
    /// The index of the file read next in the manifest's list.
    file: usize,
    #[serde(flatten)]
    lines: LineCursor,
}

/// A data file a manifest lists.
struct DataFile {
    bucket: String,
    key: String,
}

/// At most `limit` items from the files the manifest at `s3://bucket/key` lists, from `cursor`
/// on (null: the first file's start), with the cursor of the rest.
pub(super) async fn read_manifest_page(store: &dyn ObjectStore, bucket: &str, key: &str, manifest: &Manifest, cursor: &Value, limit: usize) -> Result<(Vec<Value>, Option<Value>), ReaderFailure> {
    let mut cursor: FilesCursor = parse_cursor(cursor)?;
    let text = read_whole(store, bucket, key).await.map_err(|ReaderFailure(cause)| ReaderFailure(format!("Reading the manifest s3://{bucket}/{key} failed: {cause}")))?;
    let inventory_format;
    let (files, format) = match manifest {
        Manifest::S3Inventory => {
            let files;
            (files, inventory_format) = inventory_files(&text, bucket, key)?;
            (files, &inventory_format)
        }
        Manifest::AthenaData(format) => (athena_files(&text, bucket, key)?, format),
    };
    let mut items = Vec::new();
    while let Some(file) = files.get(cursor.file) {
        if items.len() == limit {
            break;
        }
        let (page, rest) = read_lines(store, &file.bucket, &file.key, format, std::mem::take(&mut cursor.lines), limit - items.len()).await?;
        items.extend(page);
        match rest {
            Some(lines) => cursor.lines = lines,
            None => cursor.file += 1,
        }
    }
    let next = (cursor.file < files.len()).then(|| serde_json::to_value(&cursor).unwrap_or_default());
    Ok((items, next))
}

/// The fields of an inventory's `manifest.json` the reader needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryManifest {
    /// `arn:aws:s3:::bucket`: where the inventory's files are.
    destination_bucket: Option<String>,
    file_format: String,
    /// The columns of every file, e.g. `Bucket, Key, Size, LastModifiedDate`.
    file_schema: String,
    files: Vec<InventoryFile>,
}

#[derive(Deserialize)]
struct InventoryFile {
    key: String,
}

/// The CSV files of an S3 inventory and their columns. Inventory files have no header row.
fn inventory_files(text: &[u8], bucket: &str, key: &str) -> Result<(Vec<DataFile>, LineFormat), ReaderFailure> {
    let manifest: InventoryManifest =
        serde_json::from_slice(text).map_err(|error| ReaderFailure(format!("The manifest s3://{bucket}/{key} is not an S3 inventory manifest (fileFormat, fileSchema, files): {error}")))?;
    if manifest.file_format != "CSV" {
        return Err(ReaderFailure(format!("The inventory s3://{bucket}/{key} has fileFormat {}: only CSV inventories can be read", manifest.file_format)));
    }
    let columns: Vec<String> = manifest.file_schema.split(',').map(|column| column.trim().to_owned()).collect();
    if columns.iter().any(String::is_empty) {
        return Err(ReaderFailure(format!("The fileSchema '{}' of s3://{bucket}/{key} names an empty column", manifest.file_schema)));
    }
    let destination = match &manifest.destination_bucket {
        Some(arn) => arn.strip_prefix("arn:aws:s3:::").filter(|name| !name.is_empty()).ok_or_else(|| ReaderFailure(format!("The destinationBucket '{arn}' of s3://{bucket}/{key} is not an arn:aws:s3:::BUCKET")))?,
        None => bucket,
    };
    let files = manifest.files.into_iter().map(|file| DataFile { bucket: destination.to_owned(), key: file.key }).collect();
    Ok((files, LineFormat::Csv { delimiter: ',', headers: Headers::Given(columns) }))
}

/// The data files of an Athena UNLOAD manifest: one `s3://bucket/key` a line.
fn athena_files(text: &[u8], bucket: &str, key: &str) -> Result<Vec<DataFile>, ReaderFailure> {
    let text = std::str::from_utf8(text).map_err(|_| ReaderFailure(format!("The Athena manifest s3://{bucket}/{key} is not UTF-8 text")))?;
    text.lines()
        .map(|line| line.trim().trim_matches('"'))
        .filter(|line| !line.is_empty())
        .map(|uri| {
            let (file_bucket, file_key) = uri.strip_prefix("s3://").and_then(|path| path.split_once('/')).filter(|(file_bucket, file_key)| !file_bucket.is_empty() && !file_key.is_empty()).ok_or_else(|| {
                ReaderFailure(format!("The line '{uri}' of the Athena manifest s3://{bucket}/{key} is not an s3://BUCKET/KEY"))
            })?;
            Ok(DataFile { bucket: file_bucket.to_owned(), key: file_key.to_owned() })
        })
        .collect()
}
