//! S3 over HTTP for the embedded store: the `s3s` protocol layer (XML, SigV4, routing of path-
//! and virtual-host-style requests) over [`Objects`].

use crate::disk::{Attributes, ObjectInfo};
use crate::list::ListRequest;
use crate::{ObjectError, Objects};
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{s3_error, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, S3};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// The access key pair S3 requests must be signed with.
#[derive(Clone, Debug)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Builds the S3 service. With `key`, every request must carry a valid SigV4 signature (header
/// or presigned URL) by that key; without, the caller strips signatures (see
/// `unsigned_request`) and any credentials are accepted.
pub fn build(objects: Arc<Objects>, key: Option<&AccessKey>) -> S3Service {
    let mut builder = S3ServiceBuilder::new(EmbeddedS3 { objects });
    builder.set_host(LocalhostBuckets);
    if let Some(key) = key {
        builder.set_auth(SimpleAuth::from_single(key.access_key_id.clone(), key.secret_access_key.as_str()));
    }
    builder.build()
}

/// Virtual-host-style requests name the bucket in the host: `BUCKET.localhost[:PORT]` (as
/// SDKs address `http://localhost:PORT` endpoints) or `BUCKET.s3.localhost`; any other host
/// (an IP address, `localhost`, a machine name) is path-style.
struct LocalhostBuckets;

impl S3Host for LocalhostBuckets {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|byte| byte.is_ascii_digit())).map_or(host, |(name, _)| name);
        let bucket = name.strip_suffix(".s3.localhost").or_else(|| name.strip_suffix(".localhost")).filter(|bucket| !bucket.is_empty() && *bucket != "s3");
        Ok(match bucket {
            Some(bucket) => VirtualHost::new(name).with_bucket(bucket),
            None => VirtualHost::new(name),
        })
    }
}

struct EmbeddedS3 {
    objects: Arc<Objects>,
}

fn s3_error(error: ObjectError) -> S3Error {
    let code = match &error {
        ObjectError::NoSuchBucket(_) => S3ErrorCode::NoSuchBucket,
        ObjectError::NoSuchKey(_) => S3ErrorCode::NoSuchKey,
        ObjectError::NoSuchUpload(_) => S3ErrorCode::NoSuchUpload,
        ObjectError::BucketAlreadyOwnedByYou(_) => S3ErrorCode::BucketAlreadyOwnedByYou,
        ObjectError::BucketNotEmpty(_) => S3ErrorCode::BucketNotEmpty,
        ObjectError::InvalidPart(_) => S3ErrorCode::InvalidPart,
        ObjectError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
        ObjectError::EntityTooSmall => S3ErrorCode::EntityTooSmall,
        ObjectError::InvalidArgument(_) => S3ErrorCode::InvalidArgument,
        ObjectError::Remote { code, .. } => S3ErrorCode::Custom(code.clone().into()),
        ObjectError::Io(_) => S3ErrorCode::InternalError,
    };
    if let ObjectError::Io(io) = &error {
        tracing::error!(error = %io, "object store I/O failed");
    }
    S3Error::with_message(code, error.to_string())
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or_default()))
}

fn etag(info: &ObjectInfo) -> ETag {
    ETag::Strong(info.etag.clone())
}

fn size(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

#[allow(clippy::too_many_arguments)]
fn attributes(
    content_type: Option<ContentType>,
    content_encoding: Option<ContentEncoding>,
    content_disposition: Option<ContentDisposition>,
    content_language: Option<ContentLanguage>,
    cache_control: Option<CacheControl>,
    metadata: Option<Metadata>,
) -> Attributes {
    Attributes {
        content_type: content_type.map(|content_type| content_type.to_string()),
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        metadata: metadata.unwrap_or_default().into_iter().collect(),
    }
}

fn content_type(attributes: &Attributes) -> Option<ContentType> {
    attributes.content_type.as_deref().and_then(|value| value.parse().ok())
}

fn user_metadata(attributes: &Attributes) -> Option<Metadata> {
    (!attributes.metadata.is_empty()).then(|| attributes.metadata.clone().into_iter().collect())
}

fn owner() -> Owner {
    Owner { display_name: Some("switchyard".into()), id: Some("000000000000".into()) }
}

#[async_trait::async_trait]
impl S3 for EmbeddedS3 {
    async fn create_bucket(&self, request: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = request.input.bucket;
        let objects = self.objects.clone();
        let name = bucket.clone();
        objects.blocking(move |objects| objects.create_bucket(&name)).await.map_err(s3_error)?;
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{bucket}")) }))
    }

    async fn delete_bucket(&self, request: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = request.input.bucket;
        self.objects.blocking(move |objects| objects.delete_bucket(&bucket)).await.map_err(s3_error)?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn head_bucket(&self, request: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        if !self.objects.bucket_exists(&request.input.bucket) {
            return Err(s3_error(ObjectError::NoSuchBucket(request.input.bucket)));
        }
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some("us-east-1".into()), ..Default::default() }))
    }

    async fn get_bucket_location(&self, request: S3Request<GetBucketLocationInput>) -> S3Result<S3Response<GetBucketLocationOutput>> {
        if !self.objects.bucket_exists(&request.input.bucket) {
            return Err(s3_error(ObjectError::NoSuchBucket(request.input.bucket)));
        }
        // us-east-1 is reported as no constraint.
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn list_buckets(&self, _request: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self
            .objects
            .buckets()
            .into_iter()
            .map(|bucket| Bucket { name: Some(bucket.name), creation_date: Some(timestamp(bucket.created_ms)), bucket_region: None })
            .collect();
        Ok(S3Response::new(ListBucketsOutput { buckets: Some(buckets), owner: Some(owner()), ..Default::default() }))
    }

    async fn put_object(&self, request: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let input = request.input;
        let attributes = attributes(input.content_type, input.content_encoding, input.content_disposition, input.content_language, input.cache_control, input.metadata);
        let info = match input.body {
            Some(body) => self.objects.put(&input.bucket, &input.key, body, attributes).await,
            None => self.objects.put(&input.bucket, &input.key, futures::stream::empty::<Result<bytes::Bytes, ObjectError>>(), attributes).await,
        }
        .map_err(s3_error)?;
        Ok(S3Response::new(PutObjectOutput { e_tag: Some(etag(&info)), ..Default::default() }))
    }

    async fn get_object(&self, request: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let input = request.input;
        let requested = input.range;
        let (info, range, stream) = self
            .objects
            .read(&input.bucket, &input.key, move |size| match requested {
                None => Ok(0..size),
                Some(range) => range.check(size).map_err(|_| ObjectError::InvalidArgument(String::new())),
            })
            .await
            .map_err(|error| match (error, requested) {
                (ObjectError::InvalidArgument(_), Some(_)) => s3_error!(InvalidRange, "The requested range is not satisfiable"),
                (error, _) => s3_error(error),
            })?;
        let content_range = requested.map(|_| format!("bytes {}-{}/{}", range.start, range.end.saturating_sub(1), info.size));
        let output = GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some(size(range.end - range.start)),
            content_range,
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag(&info)),
            last_modified: Some(timestamp(info.last_modified_ms)),
            content_type: content_type(&info.attributes),
            metadata: user_metadata(&info.attributes),
            content_encoding: info.attributes.content_encoding.clone(),
            content_disposition: info.attributes.content_disposition.clone(),
            content_language: info.attributes.content_language.clone(),
            cache_control: info.attributes.cache_control.clone(),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn head_object(&self, request: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let info = self.objects.head(&request.input.bucket, &request.input.key).await.map_err(s3_error)?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(size(info.size)),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag(&info)),
            last_modified: Some(timestamp(info.last_modified_ms)),
            content_type: content_type(&info.attributes),
            metadata: user_metadata(&info.attributes),
            content_encoding: info.attributes.content_encoding.clone(),
            content_disposition: info.attributes.content_disposition.clone(),
            content_language: info.attributes.content_language.clone(),
            cache_control: info.attributes.cache_control.clone(),
            ..Default::default()
        }))
    }

    async fn delete_object(&self, request: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.objects.delete(&request.input.bucket, &request.input.key).await.map_err(s3_error)?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(&self, request: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = request.input;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in input.delete.objects {
            match self.objects.delete(&input.bucket, &object.key).await {
                Ok(()) if quiet => {}
                Ok(()) => deleted.push(DeletedObject { key: Some(object.key), ..Default::default() }),
                Err(ObjectError::NoSuchBucket(bucket)) => return Err(s3_error(ObjectError::NoSuchBucket(bucket))),
                Err(error) => errors.push(Error { code: Some(error.code().to_owned()), key: Some(object.key), message: Some(error.to_string()), version_id: None }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput { deleted: Some(deleted), errors: (!errors.is_empty()).then_some(errors), ..Default::default() }))
    }

    async fn copy_object(&self, request: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = request.input;
        let CopySource::Bucket { bucket: source_bucket, key: source_key, .. } = &input.copy_source else {
            return Err(s3_error!(NotImplemented, "Copying from an access point or outpost is not supported"));
        };
        let replace = input.metadata_directive.as_ref().is_some_and(|directive| directive.as_str() == MetadataDirective::REPLACE);
        if !replace && **source_bucket == *input.bucket && **source_key == *input.key {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let replacement = replace.then(|| attributes(input.content_type, input.content_encoding, input.content_disposition, input.content_language, input.cache_control, input.metadata));
        let info = self.objects.copy(source_bucket, source_key, &input.bucket, &input.key, replacement).await.map_err(s3_error)?;
        let result = CopyObjectResult { e_tag: Some(etag(&info)), last_modified: Some(timestamp(info.last_modified_ms)), ..Default::default() };
        Ok(S3Response::new(CopyObjectOutput { copy_object_result: Some(result), ..Default::default() }))
    }

    async fn list_objects_v2(&self, request: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = request.input;
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000);
        if let Some(token) = input.continuation_token.as_deref() {
            if !crate::list::valid_token(token) {
                return Err(s3_error!(InvalidArgument, "The continuation token provided is incorrect"));
            }
        }
        let prefix = input.prefix.clone().unwrap_or_default();
        let listing = self
            .objects
            .list(
                &input.bucket,
                &ListRequest {
                    prefix: &prefix,
                    delimiter: input.delimiter.as_deref(),
                    start_after: input.start_after.as_deref(),
                    continuation_token: input.continuation_token.as_deref(),
                    max_keys: max_keys as usize,
                },
            )
            .map_err(s3_error)?;
        let fetch_owner = input.fetch_owner.unwrap_or(false);
        let contents: Vec<Object> = listing
            .objects
            .iter()
            .map(|info| Object {
                key: Some(info.key.clone()),
                size: Some(size(info.size)),
                e_tag: Some(etag(info)),
                last_modified: Some(timestamp(info.last_modified_ms)),
                storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
                owner: fetch_owner.then(owner),
                ..Default::default()
            })
            .collect();
        let common_prefixes: Vec<CommonPrefix> = listing.common_prefixes.into_iter().map(|prefix| CommonPrefix { prefix: Some(prefix) }).collect();
        let key_count = (contents.len() + common_prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(prefix),
            delimiter: input.delimiter,
            max_keys: Some(max_keys),
            key_count: Some(key_count),
            is_truncated: Some(listing.next_continuation_token.is_some()),
            next_continuation_token: listing.next_continuation_token,
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            encoding_type: input.encoding_type,
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(&self, request: S3Request<CreateMultipartUploadInput>) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = request.input;
        let attributes = attributes(input.content_type, input.content_encoding, input.content_disposition, input.content_language, input.cache_control, input.metadata);
        let (bucket, key) = (input.bucket.clone(), input.key.clone());
        let upload_id = self.objects.blocking(move |objects| objects.create_upload(&bucket, &key, attributes)).await.map_err(s3_error)?;
        Ok(S3Response::new(CreateMultipartUploadOutput { bucket: Some(input.bucket), key: Some(input.key), upload_id: Some(upload_id), ..Default::default() }))
    }

    async fn upload_part(&self, request: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let input = request.input;
        let info = match input.body {
            Some(body) => self.objects.upload_part(&input.bucket, &input.key, &input.upload_id, input.part_number, body).await,
            None => self.objects.upload_part(&input.bucket, &input.key, &input.upload_id, input.part_number, futures::stream::empty::<Result<bytes::Bytes, ObjectError>>()).await,
        }
        .map_err(s3_error)?;
        Ok(S3Response::new(UploadPartOutput { e_tag: Some(etag(&info)), ..Default::default() }))
    }

    async fn list_parts(&self, request: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let input = request.input;
        let (bucket, key, upload_id) = (input.bucket.clone(), input.key.clone(), input.upload_id.clone());
        let parts = self.objects.blocking(move |objects| objects.list_parts(&bucket, &key, &upload_id)).await.map_err(s3_error)?;
        let parts = parts
            .into_iter()
            .map(|part| Part { part_number: Some(part.number), size: Some(size(part.info.size)), e_tag: Some(etag(&part.info)), last_modified: Some(timestamp(part.info.last_modified_ms)), ..Default::default() })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            parts: Some(parts),
            is_truncated: Some(false),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(&self, request: S3Request<AbortMultipartUploadInput>) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = request.input;
        self.objects.blocking(move |objects| objects.abort_upload(&input.bucket, &input.key, &input.upload_id)).await.map_err(s3_error)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn complete_multipart_upload(&self, request: S3Request<CompleteMultipartUploadInput>) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = request.input;
        let chosen = input
            .multipart_upload
            .and_then(|upload| upload.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|part| (part.part_number.unwrap_or_default(), part.e_tag.map(ETag::into_value)))
            .collect();
        let info = self.objects.complete_upload(&input.bucket, &input.key, &input.upload_id, chosen).await.map_err(s3_error)?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(etag(&info)),
            ..Default::default()
        }))
    }
}
