//! ListObjectsV2 over a bucket's sorted keys: prefixes, delimiters and continuation.

use crate::disk::ObjectInfo;
use base64::Engine;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

pub struct ListRequest<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    pub start_after: Option<&'a str>,
    pub continuation_token: Option<&'a str>,
    pub max_keys: usize,
}

#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<Arc<ObjectInfo>>,
    pub common_prefixes: Vec<String>,
    pub next_continuation_token: Option<String>,
}

/// Where a listing resumes: after a key, or after every key under a common prefix. Tokens are
/// opaque to clients (base64 of a tag and the string), as S3's are.
#[derive(Debug, PartialEq)]
enum Resume {
    AfterKey(String),
    AfterPrefix(String),
}

impl Resume {
    fn token(&self) -> String {
        let tagged = match self {
            Resume::AfterKey(key) => format!("k{key}"),
            Resume::AfterPrefix(prefix) => format!("p{prefix}"),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tagged)
    }

    fn parse(token: &str) -> Option<Resume> {
        let tagged = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        match tagged.split_at_checked(1)? {
            ("k", key) => Some(Resume::AfterKey(key.to_owned())),
            ("p", prefix) => Some(Resume::AfterPrefix(prefix.to_owned())),
            _ => None,
        }
    }
}

/// Whether `token` is one this module issued.
pub fn valid_token(token: &str) -> bool {
    Resume::parse(token).is_some()
}

pub fn list(objects: &BTreeMap<String, Arc<ObjectInfo>>, request: &ListRequest<'_>) -> Listing {
    let resume = match (request.continuation_token.and_then(Resume::parse), request.start_after) {
        (Some(resume), _) => Some(resume),
        (None, Some(after)) if !after.is_empty() => Some(Resume::AfterKey(after.to_owned())),
        _ => None,
    };
    let lower = match &resume {
        Some(Resume::AfterKey(key) | Resume::AfterPrefix(key)) if key.as_str() >= request.prefix => Bound::Excluded(key.as_str()),
        _ => Bound::Included(request.prefix),
    };
    let skipped_prefix = match &resume {
        Some(Resume::AfterPrefix(prefix)) => Some(prefix.as_str()),
        _ => None,
    };
    let mut listing = Listing::default();
    let mut last: Option<Resume> = None;
    let mut entries = 0;
    for (key, info) in objects.range::<str, _>((lower, Bound::Unbounded)) {
        if !key.starts_with(request.prefix) {
            break;
        }
        if skipped_prefix.is_some_and(|prefix| key.starts_with(prefix)) {
            continue;
        }
        let common_prefix = request.delimiter.filter(|delimiter| !delimiter.is_empty()).and_then(|delimiter| {
            let rest = &key[request.prefix.len()..];
            rest.find(delimiter).map(|at| &key[..request.prefix.len() + at + delimiter.len()])
        });
        if let (Some(prefix), Some(Resume::AfterPrefix(previous))) = (common_prefix, &last) {
            if prefix == previous {
                continue;
            }
        }
        if entries == request.max_keys {
            listing.next_continuation_token = last.map(|resume| resume.token());
            return listing;
        }
        entries += 1;
        match common_prefix {
            Some(prefix) => {
                listing.common_prefixes.push(prefix.to_owned());
                last = Some(Resume::AfterPrefix(prefix.to_owned()));
            }
            None => {
                listing.objects.push(info.clone());
                last = Some(Resume::AfterKey(key.clone()));
            }
        }
    }
    listing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(keys: &[&str]) -> BTreeMap<String, Arc<ObjectInfo>> {
        keys.iter()
            .map(|key| ((*key).to_owned(), Arc::new(ObjectInfo { key: (*key).to_owned(), size: 0, etag: String::new(), last_modified_ms: 0, attributes: Default::default() })))
            .collect()
    }

    fn names(listing: &Listing) -> (Vec<&str>, Vec<&str>) {
        (listing.objects.iter().map(|info| info.key.as_str()).collect(), listing.common_prefixes.iter().map(String::as_str).collect())
    }

    fn request<'a>(prefix: &'a str, delimiter: Option<&'a str>, token: Option<&'a str>, max_keys: usize) -> ListRequest<'a> {
        ListRequest { prefix, delimiter, start_after: None, continuation_token: token, max_keys }
    }

    #[test]
    fn a_delimiter_rolls_keys_up_into_common_prefixes() {
        let objects = bucket(&["a.txt", "photos/2024/x.jpg", "photos/2025/y.jpg", "photos/z.jpg", "zz"]);
        let listing = list(&objects, &request("", Some("/"), None, 1000));
        assert_eq!(names(&listing), (vec!["a.txt", "zz"], vec!["photos/"]));
        let listing = list(&objects, &request("photos/", Some("/"), None, 1000));
        assert_eq!(names(&listing), (vec!["photos/z.jpg"], vec!["photos/2024/", "photos/2025/"]));
        assert_eq!(listing.next_continuation_token, None);
    }

    #[test]
    fn pages_continue_after_a_key_or_past_a_whole_common_prefix() {
        let objects = bucket(&["a", "b/1", "b/2", "c", "d"]);
        let first = list(&objects, &request("", Some("/"), None, 2));
        assert_eq!(names(&first), (vec!["a"], vec!["b/"]));
        let token = first.next_continuation_token.unwrap();
        let second = list(&objects, &request("", Some("/"), Some(&token), 2));
        assert_eq!(names(&second), (vec!["c", "d"], vec![]));
        assert_eq!(second.next_continuation_token, None);
    }

    #[test]
    fn a_prefix_that_is_itself_a_key_lists_that_key() {
        let objects = bucket(&["dir/", "dir/a", "dir/b/c"]);
        let listing = list(&objects, &request("dir/", Some("/"), None, 1000));
        assert_eq!(names(&listing), (vec!["dir/", "dir/a"], vec!["dir/b/"]));
    }
}
