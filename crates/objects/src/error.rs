//! What can go wrong with buckets and objects, named as S3 names it.

use std::fmt;

#[derive(Debug)]
pub enum ObjectError {
    NoSuchBucket(String),
    NoSuchKey(String),
    NoSuchUpload(String),
    BucketAlreadyOwnedByYou(String),
    BucketNotEmpty(String),
    /// A part named by CompleteMultipartUpload is missing or its ETag differs.
    InvalidPart(String),
    InvalidPartOrder,
    /// A part other than the last is below S3's 5 MiB minimum.
    EntityTooSmall,
    InvalidArgument(String),
    /// A request to an external S3 failed: its error code (e.g. `NoSuchKey`) and message.
    Remote { code: String, message: String, status: u16 },
    Io(std::io::Error),
}

impl ObjectError {
    /// The S3 error code (`NoSuchKey`, `NoSuchBucket`, ...).
    pub fn code(&self) -> &str {
        match self {
            ObjectError::NoSuchBucket(_) => "NoSuchBucket",
            ObjectError::NoSuchKey(_) => "NoSuchKey",
            ObjectError::NoSuchUpload(_) => "NoSuchUpload",
            ObjectError::BucketAlreadyOwnedByYou(_) => "BucketAlreadyOwnedByYou",
            ObjectError::BucketNotEmpty(_) => "BucketNotEmpty",
            ObjectError::InvalidPart(_) => "InvalidPart",
            ObjectError::InvalidPartOrder => "InvalidPartOrder",
            ObjectError::EntityTooSmall => "EntityTooSmall",
            ObjectError::InvalidArgument(_) => "InvalidArgument",
            ObjectError::Remote { code, .. } => code,
            ObjectError::Io(_) => "InternalError",
        }
    }

    /// The HTTP status S3 answers with.
    pub fn status(&self) -> u16 {
        match self {
            ObjectError::NoSuchBucket(_) | ObjectError::NoSuchKey(_) | ObjectError::NoSuchUpload(_) => 404,
            ObjectError::BucketAlreadyOwnedByYou(_) | ObjectError::BucketNotEmpty(_) => 409,
            ObjectError::InvalidPart(_) | ObjectError::InvalidPartOrder | ObjectError::EntityTooSmall | ObjectError::InvalidArgument(_) => 400,
            ObjectError::Remote { status, .. } => *status,
            ObjectError::Io(_) => 500,
        }
    }
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectError::NoSuchBucket(_) => write!(f, "The specified bucket does not exist"),
            ObjectError::NoSuchKey(_) => write!(f, "The specified key does not exist."),
            ObjectError::NoSuchUpload(_) => {
                write!(f, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
            }
            ObjectError::BucketAlreadyOwnedByYou(_) => write!(f, "Your previous request to create the named bucket succeeded and you already own it."),
            ObjectError::BucketNotEmpty(_) => write!(f, "The bucket you tried to delete is not empty"),
            ObjectError::InvalidPart(_) => {
                write!(f, "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
            }
            ObjectError::InvalidPartOrder => write!(f, "The list of parts was not in ascending order. Parts must be ordered by part number."),
            ObjectError::EntityTooSmall => write!(f, "Your proposed upload is smaller than the minimum allowed object size."),
            ObjectError::InvalidArgument(message) | ObjectError::Remote { message, .. } => write!(f, "{message}"),
            ObjectError::Io(error) => write!(f, "We encountered an internal error. Please try again. ({error})"),
        }
    }
}

impl std::error::Error for ObjectError {}

impl From<std::io::Error> for ObjectError {
    fn from(error: std::io::Error) -> ObjectError {
        ObjectError::Io(error)
    }
}
