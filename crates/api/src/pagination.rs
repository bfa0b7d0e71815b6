//! Pages of listings. A `nextToken` is opaque to callers: base64url of where the next page starts
//! (its offset and the key of the item before it, so that a listing that changed in between
//! still resumes after that item) and a digest of the listing it belongs to, so that a token
//! from another listing, or a made-up one, is refused with InvalidToken.

use crate::error::ApiError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// AWS's page size when maxResults is absent or 0.
const DEFAULT_PAGE_SIZE: usize = 100;

/// What a listing request asks for, its model constraints already checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Paging<'a> {
    pub max_results: Option<i64>,
    pub next_token: Option<&'a str>,
}

#[derive(Serialize, Deserialize)]
struct Position {
    listing: String,
    offset: usize,
    after: String,
}

fn invalid_token() -> ApiError {
    ApiError::service("InvalidToken", "Invalid Token: 'Invalid token'")
}

/// `listing` names what is listed (operation and its filters): a token only resumes its own.
fn digest(listing: &str) -> String {
    Sha256::digest(listing.as_bytes()).iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

fn encode(listing: &str, offset: usize, after: String) -> String {
    let position = Position { listing: digest(listing), offset, after };
    // A struct of strings and numbers always serializes.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&position).unwrap_or_default())
}

fn decode(token: &str, listing: &str) -> Result<Position, ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid_token())?;
    let position: Position = serde_json::from_slice(&bytes).map_err(|_| invalid_token())?;
    match position.listing == digest(listing) {
        true => Ok(position),
        false => Err(invalid_token()),
    }
}

/// The page of `items` that `paging` asks for, and the token of the next one if any is left.
pub fn page<T>(mut items: Vec<T>, paging: Paging, listing: &str, key: impl Fn(&T) -> String) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match paging.next_token {
        None => 0,
        Some(token) => {
            let position = decode(token, listing)?;
            let before = position.offset.checked_sub(1).and_then(|index| items.get(index));
            if before.is_some_and(|item| key(item) == position.after) {
                position.offset
            } else {
                items.iter().position(|item| key(item) == position.after).map_or(position.offset.min(items.len()), |index| index + 1)
            }
        }
    };
    let size = paging.max_results.and_then(|max| usize::try_from(max).ok()).filter(|&max| max > 0).unwrap_or(DEFAULT_PAGE_SIZE);
    let end = start.saturating_add(size).min(items.len());
    let next_token = match end.checked_sub(1).and_then(|last| items.get(last)) {
        Some(last) if end < items.len() => Some(encode(listing, end, key(last))),
        _ => None,
    };
    Ok((items.drain(start..end).collect(), next_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(count: u32) -> Vec<u32> {
        (1..=count).collect()
    }

    fn page_of(items: Vec<u32>, max_results: i64, next_token: Option<&str>) -> (Vec<u32>, Option<String>) {
        page(items, Paging { max_results: Some(max_results), next_token }, "list", u32::to_string).unwrap()
    }

    #[test]
    fn pages_follow_each_other_until_none_is_left() {
        let (first, token) = page_of(numbers(8), 3, None);
        assert_eq!(first, [1, 2, 3]);
        let (second, token) = page_of(numbers(8), 3, token.as_deref());
        assert_eq!(second, [4, 5, 6]);
        let (third, token) = page_of(numbers(8), 3, token.as_deref());
        assert_eq!((third, token), (vec![7, 8], None));
    }

    #[test]
    fn no_max_results_means_a_hundred() {
        let (first, token) = page(numbers(150), Paging::default(), "list", u32::to_string).unwrap();
        assert_eq!(first.len(), 100);
        assert!(token.is_some());
    }

    #[test]
    fn a_page_resumes_after_its_item_when_items_came_before_it() {
        let (_, token) = page_of(numbers(4), 2, None);
        let mut grown = vec![0];
        grown.extend(numbers(4));
        assert_eq!(page_of(grown, 2, token.as_deref()).0, [3, 4]);
    }

    #[test]
    fn tokens_of_other_listings_or_made_up_are_invalid() {
        let (_, token) = page_of(numbers(4), 2, None);
        let other = page(numbers(4), Paging { max_results: Some(2), next_token: token.as_deref() }, "other", u32::to_string);
        assert_eq!(other.unwrap_err().message, "Invalid Token: 'Invalid token'");
        let made_up = page(numbers(4), Paging { max_results: Some(2), next_token: Some("garbage!") }, "list", u32::to_string);
        assert_eq!(made_up.unwrap_err().code(), "InvalidToken");
    }
}
