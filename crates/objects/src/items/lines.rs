//! Items from the lines of an object, JSON Lines or CSV, a page at a time from a cursor: the
//! offset of the next line in the object's (decompressed) bytes and, for CSV, the column names
//! once read from its first row. A gzipped object's stream stays open between its pages.

use super::gunzip::{gunzip, is_gzipped};
use super::ReaderFailure;
use crate::ObjectStore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::pin::Pin;
use std::sync::Mutex;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// How an object's lines become items.
pub(super) enum LineFormat {
    /// One JSON value a line.
    Jsonl,
    /// One object a row, the column names as its fields (values are strings).
    Csv { delimiter: char, headers: Headers },
}

pub(super) enum Headers {
    /// Each object's first row.
    FirstRow,
    Given(Vec<String>),
}

impl LineFormat {
    /// CSV as a ReaderConfig describes it (CSVDelimiter, CSVHeaderLocation, CSVHeaders).
    pub(super) fn csv(config: &Value) -> Result<LineFormat, ReaderFailure> {
        let headers = match config.get("CSVHeaderLocation").and_then(Value::as_str).unwrap_or("FIRST_ROW") {
            "FIRST_ROW" => Headers::FirstRow,
            "GIVEN" => {
                let names = config.get("CSVHeaders").and_then(Value::as_array).ok_or_else(|| ReaderFailure("CSVHeaderLocation GIVEN needs CSVHeaders".into()))?;
                Headers::Given(names.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            }
            other => return Err(ReaderFailure(format!("CSVHeaderLocation {other} is not one of FIRST_ROW, GIVEN"))),
        };
        Ok(LineFormat::Csv { delimiter: csv_delimiter(config)?, headers })
    }
}

fn csv_delimiter(config: &Value) -> Result<char, ReaderFailure> {
    match config.get("CSVDelimiter").and_then(Value::as_str).unwrap_or("COMMA") {
        "COMMA" => Ok(','),
        "PIPE" => Ok('|'),
        "SEMICOLON" => Ok(';'),
        "SPACE" => Ok(' '),
        "TAB" => Ok('\t'),
        other => Err(ReaderFailure(format!("CSVDelimiter {other} is not one of COMMA, PIPE, SEMICOLON, SPACE, TAB"))),
    }
}

/// Where the next page of an object's lines starts. Serialized as the Map's cursor
/// (`{"Offset", "Headers"}`), which the interpreter keeps between pages.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct LineCursor {
    /// Of the next line, in the object's bytes after decompression.
    pub offset: u64,
    /// CSV column names read from the object's first row.
    pub headers: Option<Vec<String>>,
}

type TextReader = Pin<Box<dyn AsyncBufRead + Send>>;

/// The object's bytes from `offset` on. A plain object is read with a ranged GET; a gzipped one
/// cannot be entered in the middle, so it continues the stream the previous page left open (see
/// [`SUSPENDED`]) or is decompressed from its start and `offset` bytes skipped.
async fn open(store: &dyn ObjectStore, bucket: &str, key: &str, offset: u64) -> Result<TextReader, ReaderFailure> {
    if !is_gzipped(key) {
        let (_, stream) = store.get_object(bucket, key, (offset > 0).then_some((offset, None))).await?;
        return Ok(Box::pin(tokio_util::io::StreamReader::new(stream)));
    }
    if let Some(reader) = Suspended::resume(store, bucket, key, offset) {
        return Ok(reader);
    }
    let (_, stream) = store.get_object(bucket, key, None).await?;
    let mut reader = tokio_util::io::StreamReader::new(Box::pin(gunzip(stream)));
    let skipped = tokio::io::copy(&mut (&mut reader).take(offset), &mut tokio::io::sink()).await.map_err(|error| read_failure(bucket, key, error))?;
    if skipped < offset {
        return Err(ReaderFailure(format!("s3://{bucket}/{key} ends at byte {skipped} of its decompressed text, before the cursor's {offset}: was it replaced?")));
    }
    Ok(Box::pin(reader))
}

fn read_failure(bucket: &str, key: &str, error: std::io::Error) -> ReaderFailure {
    ReaderFailure(format!("Reading s3://{bucket}/{key} failed: {error}"))
}

/// Gzipped objects left open where a page ended, so that the next page (a separate task call,
/// hence a list for the process) goes on decompressing instead of starting over: without them a
/// gzipped file of N pages costs N²/2 pages of decompression. A handful covers the Maps reading
/// at once; the oldest is dropped past that, and a restart simply starts over.
static SUSPENDED: Mutex<Vec<Suspended>> = Mutex::new(Vec::new());
const SUSPENDED_READERS: usize = 16;

struct Suspended {
    /// The store the reader reads from (its address): tests and servers may hold several.
    store: usize,
    bucket: String,
    key: String,
    offset: u64,
    reader: TextReader,
}

impl Suspended {
    fn store_id(store: &dyn ObjectStore) -> usize {
        std::ptr::from_ref(store).cast::<()>() as usize
    }

    fn resume(store: &dyn ObjectStore, bucket: &str, key: &str, offset: u64) -> Option<TextReader> {
        let mut suspended = SUSPENDED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let store = Suspended::store_id(store);
        let index = suspended.iter().position(|open| open.store == store && open.bucket == bucket && open.key == key && open.offset == offset)?;
        Some(suspended.remove(index).reader)
    }

    fn suspend(store: &dyn ObjectStore, bucket: &str, key: &str, offset: u64, reader: TextReader) {
        let mut suspended = SUSPENDED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if suspended.len() == SUSPENDED_READERS {
            suspended.remove(0);
        }
        suspended.push(Suspended { store: Suspended::store_id(store), bucket: bucket.to_owned(), key: key.to_owned(), offset, reader });
    }
}

/// The whole (decompressed) bytes of an object, for formats read at once (a JSON array).
pub(super) async fn read_whole(store: &dyn ObjectStore, bucket: &str, key: &str) -> Result<Vec<u8>, ReaderFailure> {
    let mut bytes = Vec::new();
    open(store, bucket, key, 0).await?.read_to_end(&mut bytes).await.map_err(|error| read_failure(bucket, key, error))?;
    Ok(bytes)
}

/// At most `limit` items of the object from `cursor`, and the cursor of the rest (None: the
/// object is read to its end).
pub(super) async fn read_lines(store: &dyn ObjectStore, bucket: &str, key: &str, format: &LineFormat, cursor: LineCursor, limit: usize) -> Result<(Vec<Value>, Option<LineCursor>), ReaderFailure> {
    let mut reader = open(store, bucket, key, cursor.offset).await?;
    let mut position = Position { offset: cursor.offset, line: String::new() };
    let mut items = Vec::new();
    let headers = match format {
        LineFormat::Jsonl => {
            while items.len() < limit {
                let at = position.offset;
                let Some(line) = position.next_line(&mut reader).await? else { break };
                items.push(serde_json::from_str(line).map_err(|error| ReaderFailure(format!("The line at byte {at} of s3://{bucket}/{key} is not JSON: {error}")))?);
            }
            None
        }
        LineFormat::Csv { delimiter, headers } => {
            let headers = match (cursor.headers, headers) {
                (Some(read), _) => read,
                (None, Headers::Given(given)) => given.clone(),
                (None, Headers::FirstRow) => position.next_line(&mut reader).await?.map(|line| split_csv_line(line, *delimiter)).unwrap_or_default(),
            };
            while items.len() < limit {
                let Some(line) = position.next_line(&mut reader).await? else { break };
                items.push(csv_item(&headers, split_csv_line(line, *delimiter)));
            }
            matches!(format, LineFormat::Csv { headers: Headers::FirstRow, .. }).then_some(headers)
        }
    };
    let more = !reader.fill_buf().await.map_err(|error| read_failure(bucket, key, error))?.is_empty();
    if more && is_gzipped(key) {
        Suspended::suspend(store, bucket, key, position.offset, reader);
    }
    Ok((items, more.then_some(LineCursor { offset: position.offset, headers })))
}

/// A row as AWS makes it an item: missing fields are empty strings, fields beyond the headers
/// are dropped.
fn csv_item(headers: &[String], fields: Vec<String>) -> Value {
    let fields = fields.into_iter().map(Value::String).chain(std::iter::repeat(Value::String(String::new())));
    Value::Object(headers.iter().cloned().zip(fields).collect::<Map<String, Value>>())
}

/// Where an object is read: the offset of the next line, and the line last read.
struct Position {
    offset: u64,
    line: String,
}

impl Position {
    /// The next non-empty line (without its end), or None at the end of the object.
    async fn next_line<R: AsyncBufRead + Unpin + ?Sized>(&mut self, reader: &mut R) -> Result<Option<&str>, ReaderFailure> {
        loop {
            self.line.clear();
            let read = reader.read_line(&mut self.line).await.map_err(|error| ReaderFailure(error.to_string()))?;
            if read == 0 {
                return Ok(None);
            }
            self.offset += read as u64;
            if !self.line.trim().is_empty() {
                return Ok(Some(self.line.trim_end_matches(['\n', '\r'])));
            }
        }
    }
}

/// One CSV record (RFC 4180 quoting: `"a ""b"", c"`); records do not span lines.
pub(super) fn split_csv_line(line: &str, delimiter: char) -> Vec<String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut characters = line.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '"' if quoted && characters.peek() == Some(&'"') => {
                field.push('"');
                characters.next();
            }
            '"' => quoted = !quoted,
            character if character == delimiter && !quoted => fields.push(std::mem::take(&mut field)),
            character => field.push(character),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_keep_quoted_delimiters_and_quotes() {
        assert_eq!(split_csv_line(r#"a,"b, c","say ""hi""",""#, ','), ["a", "b, c", "say \"hi\"", ""]);
        assert_eq!(split_csv_line("x|y\r", '|'), ["x", "y"]);
    }

    #[test]
    fn rows_shorter_or_longer_than_the_headers() {
        let headers = ["a".to_owned(), "b".to_owned()];
        assert_eq!(csv_item(&headers, vec!["1".into()]), serde_json::json!({"a": "1", "b": ""}));
        assert_eq!(csv_item(&headers, vec!["1".into(), "2".into(), "3".into()]), serde_json::json!({"a": "1", "b": "2"}));
    }
}
