//! [`Headers`]: an ordered, case-insensitive header map with byte values.

use std::fmt;

/// Header fields in the order they were added.
///
/// Names are looked up case-insensitively and keep the case they were given.
/// Values are bytes (`obs-text` above 0x7F is allowed, as on the wire);
/// [`HeaderValue::to_str`] gives a `&str` when the value is visible ASCII.
///
/// Every name is checked to be a token and every value to be free of control
/// characters (CR, LF, NUL and the rest, except HTAB), so nothing inserted through
/// this API can split a message.
///
/// All names and values live in one byte buffer, so a map costs one
/// allocation however many fields it holds.
///
/// ```
/// use http_types::Headers;
/// let mut h = Headers::new();
/// h.append("Accept", "text/html")?;
/// h.append("accept", "text/plain")?;
/// h.insert("Host", "example.com")?;
/// assert_eq!(h.get("HOST").unwrap(), "example.com");
/// assert_eq!(h.get_all("ACCEPT").count(), 2);
/// assert!(h.append("Bad Name", "x").is_err());
/// assert!(h.append("X-Split", "a\r\nSet-Cookie: b").is_err());
/// # Ok::<(), http_types::HeaderError>(())
/// ```
#[derive(Clone, Default)]
pub struct Headers {
    /// The fields in order, each a record: name length and value length
    /// (`u32`, little-endian), then the name, then the value. One buffer, so a
    /// map costs at most one allocation however many fields it holds, and
    /// none while the records fit inline.
    bytes: Store,
    /// Number of records.
    count: usize,
}

/// Bytes before a record's name: its two lengths.
const RECORD_HEAD: usize = 8;

/// The name and value lengths a record's head holds.
#[inline]
fn lengths(head: &[u8; RECORD_HEAD]) -> (usize, usize) {
    let [a, b, c, d, e, f, g, h] = *head;
    (
        u32::from_le_bytes([a, b, c, d]) as usize,
        u32::from_le_bytes([e, f, g, h]) as usize,
    )
}

/// Whether two header names are the same, ignoring ASCII case.
#[inline]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.eq_ignore_ascii_case(b)
}

/// Record bytes kept inside the map before it allocates: room for a field
/// or two (`Host: example.com`, `Content-Type: text/html; charset=utf-8`).
const INLINE: usize = 54;

/// The records' bytes: inline while they fit, then in a vector.
#[derive(Clone)]
enum Store {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Vec<u8>),
}

impl Default for Store {
    fn default() -> Store {
        Store::Inline {
            len: 0,
            bytes: [0; INLINE],
        }
    }
}

/// Write a record (`head`, `name`, `value`) into `to`, which is exactly its
/// size.
#[inline]
fn put(to: &mut [u8], head: &[u8; RECORD_HEAD], name: &[u8], value: &[u8]) {
    let (h, rest) = to.split_at_mut(RECORD_HEAD);
    h.copy_from_slice(head);
    let (n, v) = rest.split_at_mut(name.len());
    n.copy_from_slice(name);
    v.copy_from_slice(value);
}

impl Store {
    fn with_capacity(n: usize) -> Store {
        if n <= INLINE {
            Store::default()
        } else {
            Store::Heap(Vec::with_capacity(n))
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Store::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Store::Heap(v) => v,
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn clear(&mut self) {
        match self {
            Store::Inline { len, .. } => *len = 0,
            Store::Heap(v) => v.clear(),
        }
    }

    /// Replace `range` with a record: `head`, `name`, `value`.
    fn replace(
        &mut self,
        range: std::ops::Range<usize>,
        head: &[u8; RECORD_HEAD],
        name: &[u8],
        value: &[u8],
    ) {
        let added = RECORD_HEAD + name.len() + value.len();
        let old = self.len();
        let new_len = old - range.len() + added;
        // Most calls append: nothing after the range to move.
        let tail = range.end < old;
        let at = range.start;
        match self {
            Store::Inline { len, bytes } if new_len <= INLINE => {
                if tail {
                    bytes.copy_within(range.end..old, at + added);
                }
                put(&mut bytes[at..at + added], head, name, value);
                // `new_len <= INLINE`, which fits in a u8.
                *len = new_len as u8;
            }
            Store::Inline { bytes, .. } => {
                let mut v = Vec::with_capacity(new_len.max(2 * INLINE));
                v.extend_from_slice(&bytes[..at]);
                v.extend_from_slice(head);
                v.extend_from_slice(name);
                v.extend_from_slice(value);
                v.extend_from_slice(&bytes[range.end..old]);
                *self = Store::Heap(v);
            }
            Store::Heap(v) => {
                if new_len > old {
                    v.resize(new_len, 0);
                }
                if tail {
                    v.copy_within(range.end..old, at + added);
                }
                put(&mut v[at..at + added], head, name, value);
                v.truncate(new_len);
            }
        }
    }

    /// Add a record at the end: `head`, `name`, `value`. The common case of
    /// [`replace`](Store::replace), without its bookkeeping for bytes after
    /// the range.
    #[inline]
    fn push(&mut self, head: &[u8; RECORD_HEAD], name: &[u8], value: &[u8]) {
        let added = RECORD_HEAD + name.len() + value.len();
        match self {
            Store::Inline { len, bytes } => {
                let at = usize::from(*len);
                if let Some(to) = bytes.get_mut(at..at + added) {
                    put(to, head, name, value);
                    // At most `INLINE`, which fits in a u8.
                    *len = (at + added) as u8;
                    return;
                }
            }
            Store::Heap(v) => {
                v.reserve(added);
                v.extend_from_slice(head);
                v.extend_from_slice(name);
                v.extend_from_slice(value);
                return;
            }
        }
        let end = self.len();
        self.replace(end..end, head, name, value);
    }

    /// Move the bytes in `range` to start at `dest`.
    fn copy_within(&mut self, range: std::ops::Range<usize>, dest: usize) {
        match self {
            Store::Inline { bytes, .. } => bytes.copy_within(range, dest),
            Store::Heap(v) => v.copy_within(range, dest),
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            Store::Inline { len, .. } => {
                if n < usize::from(*len) {
                    // Below `len`, so it fits in a u8.
                    *len = n as u8;
                }
            }
            Store::Heap(v) => v.truncate(n),
        }
    }
}

/// Where one record lies in [`Headers::bytes`].
#[derive(Clone, Copy)]
struct Record {
    name: usize,
    name_len: usize,
    value_len: usize,
}

impl Record {
    fn value(&self) -> usize {
        self.name + self.name_len
    }

    fn end(&self) -> usize {
        self.value() + self.value_len
    }
}

/// A header name or value that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The name is empty or holds a byte that is not a token character.
    #[error("invalid header name {0:?}: a name is a non-empty token (RFC 9110 section 5.1)")]
    InvalidName(String),
    /// The value holds CR, LF, NUL or another control character.
    #[error("invalid value for header {name:?}: values may not hold CR, LF, NUL or other control characters")]
    InvalidValue {
        /// The header the value was for.
        name: String,
    },
    /// The map would exceed 4 GiB of names and values.
    #[error("header map is full")]
    Full,
}

/// A borrowed header value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderValue<'a>(&'a [u8]);

/// A header value that is not visible ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("header value is not visible ASCII")]
pub struct ToStrError;

impl<'a> HeaderValue<'a> {
    /// The value's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The value as text, when every byte is visible ASCII, space or tab.
    pub fn to_str(&self) -> Result<&'a str, ToStrError> {
        if self
            .0
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            std::str::from_utf8(self.0).map_err(|_| ToStrError)
        } else {
            Err(ToStrError)
        }
    }
}

impl std::ops::Deref for HeaderValue<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0
    }
}

impl PartialEq<str> for HeaderValue<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for HeaderValue<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<[u8]> for HeaderValue<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.0 == other
    }
}

impl fmt::Debug for HeaderValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

/// Whether `name` is a valid header name (a non-empty token).
#[inline]
pub fn is_valid_name(name: &[u8]) -> bool {
    // Names are short: a table lookup per byte beats vector set-up, and
    // without a branch per byte the loop unrolls.
    !name.is_empty()
        && name
            .iter()
            .fold(true, |ok, &b| ok & crate::is_token_byte(b))
}

/// The bytes a field value may hold: HTAB, visible ASCII, space and
/// `obs-text`; no other control character.
const VALUE_TABLE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i >= 0x20 && i != 0x7f) || i == b'\t' as usize;
        i += 1;
    }
    table
};

/// Whether `value` may be sent as a header value: no control character but HTAB.
/// Bytes above 0x7F (`obs-text`) are allowed.
#[inline]
pub fn is_valid_value(value: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let by_table = |bytes: &[u8]| bytes.iter().all(|&b| VALUE_TABLE[usize::from(b)]);
    // Whether the eight bytes may hold a byte below 0x20 or equal to 0x7F:
    // such a byte sets a high bit here (and only such a byte); the table
    // then settles the word, HTAB included.
    let flagged = |word: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_ne_bytes(w);
        let low = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        let del = (x ^ (ONES * 0x7f)).wrapping_sub(ONES) & !(x ^ (ONES * 0x7f)) & HIGHS;
        (low | del) != 0
    };
    if value.len() < 8 {
        return by_table(value);
    }
    let mut words = value.chunks_exact(8);
    for word in &mut words {
        if flagged(word) && !by_table(word) {
            return false;
        }
    }
    if words.remainder().is_empty() {
        return true;
    }
    // The tail as the last eight bytes, overlapping a word already checked.
    let last = &value[value.len() - 8..];
    !flagged(last) || by_table(last)
}

impl Headers {
    /// An empty map.
    #[inline]
    pub fn new() -> Headers {
        Headers::default()
    }

    /// An empty map with room for `fields` fields totalling `bytes` bytes.
    #[inline]
    pub fn with_capacity(fields: usize, bytes: usize) -> Headers {
        Headers {
            bytes: Store::with_capacity(bytes + fields * RECORD_HEAD),
            count: 0,
        }
    }

    /// Number of fields (a name that appears twice counts twice).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Remove every field, keeping the allocation.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.count = 0;
    }

    /// The record starting at `at`, which must be a record boundary.
    fn record(&self, at: usize) -> Record {
        let mut head = [0u8; RECORD_HEAD];
        head.copy_from_slice(&self.bytes.as_slice()[at..at + RECORD_HEAD]);
        let (name_len, value_len) = lengths(&head);
        Record {
            name: at + RECORD_HEAD,
            name_len,
            value_len,
        }
    }

    /// Every record, in order.
    fn records(&self) -> impl Iterator<Item = Record> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < self.bytes.len()).then(|| {
                let r = self.record(at);
                at = r.end();
                r
            })
        })
    }

    fn name_of(&self, r: Record) -> &[u8] {
        &self.bytes.as_slice()[r.name..r.value()]
    }

    fn value_of(&self, r: Record) -> &[u8] {
        &self.bytes.as_slice()[r.value()..r.end()]
    }

    fn matches(&self, r: Record, name: &[u8]) -> bool {
        same_name(self.name_of(r), name)
    }

    /// Every field as `(name, value)`, walking one slice of the store (the
    /// lookups' path: no per-field re-borrow of the store).
    fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let mut rest = self.bytes.as_slice();
        std::iter::from_fn(move || {
            let (head, tail) = rest.split_first_chunk::<RECORD_HEAD>()?;
            let (name_len, value_len) = lengths(head);
            let (name, tail) = tail.split_at_checked(name_len)?;
            let (value, tail) = tail.split_at_checked(value_len)?;
            rest = tail;
            Some((name, value))
        })
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<HeaderValue<'_>> {
        let name = name.as_bytes();
        self.fields()
            .find(|(n, _)| same_name(n, name))
            .map(|(_, v)| HeaderValue(v))
    }

    /// The first value of `name` as text, if it is visible ASCII.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = HeaderValue<'a>> + 'a {
        let name = name.as_bytes();
        self.fields()
            .filter(move |(n, _)| same_name(n, name))
            .map(|(_, v)| HeaderValue(v))
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The head of the record for `name` and `value`: their lengths.
    #[inline]
    fn record_head(name: &[u8], value: &[u8]) -> Result<[u8; RECORD_HEAD], HeaderError> {
        let name_len = u32::try_from(name.len()).map_err(|_| HeaderError::Full)?;
        let value_len = u32::try_from(value.len()).map_err(|_| HeaderError::Full)?;
        let mut lens = [0u8; RECORD_HEAD];
        lens[..4].copy_from_slice(&name_len.to_le_bytes());
        lens[4..].copy_from_slice(&value_len.to_le_bytes());
        Ok(lens)
    }

    /// Put the record for a checked `name` and `value` in place of the bytes
    /// in `range`; returns the record's length.
    fn put_record(
        &mut self,
        range: std::ops::Range<usize>,
        name: &[u8],
        value: &[u8],
    ) -> Result<usize, HeaderError> {
        let lens = Self::record_head(name, value)?;
        self.bytes.replace(range, &lens, name, value);
        Ok(RECORD_HEAD + name.len() + value.len())
    }

    /// Add the record for a checked field at the end.
    #[inline]
    fn push_record(&mut self, name: &[u8], value: &[u8]) -> Result<(), HeaderError> {
        let lens = Self::record_head(name, value)?;
        self.bytes.push(&lens, name, value);
        self.count += 1;
        Ok(())
    }

    #[inline]
    fn checked(name: &[u8], value: &[u8]) -> Result<(), HeaderError> {
        if is_valid_name(name) && is_valid_value(value) {
            Ok(())
        } else {
            Err(Self::refusal(name))
        }
    }

    /// Why [`checked`](Headers::checked) refused `name` and a value.
    #[cold]
    fn refusal(name: &[u8]) -> HeaderError {
        let name_text = String::from_utf8_lossy(name).into_owned();
        if is_valid_name(name) {
            HeaderError::InvalidValue { name: name_text }
        } else {
            HeaderError::InvalidName(name_text)
        }
    }

    /// Add a field after the existing ones, keeping any others of the same name.
    pub fn append(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), HeaderError> {
        self.append_bytes(name.as_bytes(), value)
    }

    /// [`append`](Headers::append) with the name as bytes (it must still be a
    /// token, so it is ASCII).
    #[inline]
    pub fn append_bytes(
        &mut self,
        name: &[u8],
        value: impl AsRef<[u8]>,
    ) -> Result<(), HeaderError> {
        let value = value.as_ref();
        Self::checked(name, value)?;
        self.push_record(name, value)
    }

    /// [`append_bytes`](Headers::append_bytes) for a field a request decoder
    /// has already checked against the same rules (`name` a token, `value`
    /// free of control bytes but HTAB), so it is not checked again outside
    /// debug builds. For `http-codec`, whose head parsers check every field
    /// as they find its end; a caller that breaks the promise breaks no
    /// memory safety, only this map's guarantee that its fields cannot
    /// split a message.
    #[doc(hidden)]
    #[inline]
    pub fn append_decoded(&mut self, name: &[u8], value: &[u8]) -> Result<(), HeaderError> {
        debug_assert!(Self::checked(name, value).is_ok());
        self.push_record(name, value)
    }

    /// Set `name` to `value`: the first field of that name takes the new value
    /// (and the given name case), later ones are removed. Appends when absent.
    pub fn insert(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), HeaderError> {
        let (needle, value) = (name.as_bytes(), value.as_ref());
        Self::checked(needle, value)?;
        self.insert_checked(needle, value)
    }

    /// [`insert`](Headers::insert) for a name that is a constant of this
    /// crate, so a token already: only the value is checked.
    pub(crate) fn insert_known(
        &mut self,
        name: &'static str,
        value: &[u8],
    ) -> Result<(), HeaderError> {
        debug_assert!(is_valid_name(name.as_bytes()));
        if !is_valid_value(value) {
            return Err(HeaderError::InvalidValue { name: name.into() });
        }
        self.insert_checked(name.as_bytes(), value)
    }

    fn insert_checked(&mut self, needle: &[u8], value: &[u8]) -> Result<(), HeaderError> {
        if self.count == 0 {
            return self.push_record(needle, value);
        }
        let Some(first) = self.records().find(|&r| self.matches(r, needle)) else {
            return self.push_record(needle, value);
        };
        let start = first.name - RECORD_HEAD;
        let written = self.put_record(start..first.end(), needle, value)?;
        self.remove_from(start + written, needle);
        Ok(())
    }

    /// Remove the fields named `name` from byte `from` on (a record boundary),
    /// closing the gaps in one pass.
    fn remove_from(&mut self, from: usize, name: &[u8]) -> usize {
        let (mut read, mut write, mut removed) = (from, from, 0);
        while read < self.bytes.len() {
            let r = self.record(read);
            let end = r.end();
            if self.matches(r, name) {
                removed += 1;
            } else {
                self.bytes.copy_within(read..end, write);
                write += end - read;
            }
            read = end;
        }
        self.bytes.truncate(write);
        self.count -= removed;
        removed
    }

    /// Remove every field named `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        self.remove_from(0, name.as_bytes())
    }

    /// Every field in order, as `(name, value)` with the name as bytes (no
    /// UTF-8 check: the quicker way to copy fields out).
    pub fn iter_bytes(&self) -> impl Iterator<Item = (&[u8], HeaderValue<'_>)> + '_ {
        self.fields().map(|(n, v)| (n, HeaderValue(v)))
    }

    /// Every field in order, as `(name, value)`.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            headers: self,
            at: 0,
            left: self.count,
        }
    }
}

/// Iterator over [`Headers`], see [`Headers::iter`].
pub struct Iter<'a> {
    headers: &'a Headers,
    /// Start of the next record.
    at: usize,
    /// Records not yet returned.
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, HeaderValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let headers = self.headers;
        let r = headers.record(self.at);
        self.at = r.end();
        self.left -= 1;
        // Names are checked tokens, so always ASCII.
        let name = std::str::from_utf8(headers.name_of(r)).unwrap_or_default();
        Some((name, HeaderValue(headers.value_of(r))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, HeaderValue<'a>);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl PartialEq for Headers {
    /// Same fields in the same order, names compared exactly.
    fn eq(&self, other: &Headers) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((an, av), (bn, bv))| an == bn && av == bv)
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_lookup_keeps_case_and_order() {
        let mut h = Headers::new();
        h.append("Content-Type", "text/plain").unwrap();
        h.append("x-a", "1").unwrap();
        h.append("X-A", "2").unwrap();
        assert_eq!(h.get("content-type").unwrap(), "text/plain");
        let all: Vec<_> = h.get_all("x-A").map(|v| v.as_bytes().to_vec()).collect();
        assert_eq!(all, vec![b"1".to_vec(), b"2".to_vec()]);
        let names: Vec<_> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Content-Type", "x-a", "X-A"]);
    }

    #[test]
    fn insert_replaces_first_and_drops_rest() {
        let mut h = Headers::new();
        h.append("A", "1").unwrap();
        h.append("B", "2").unwrap();
        h.append("a", "3").unwrap();
        h.insert("A", "9").unwrap();
        let all: Vec<_> = h
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(all, [("A".into(), "9".into()), ("B".into(), "2".into())]);
        h.insert("C", "3").unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.remove("b"), 1);
        assert_eq!(h.remove("b"), 0);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn a_middle_field_that_grows_past_the_inline_store_keeps_its_place() {
        let fields = |h: &Headers| -> Vec<(String, String)> {
            h.iter()
                .map(|(n, v)| (n.to_owned(), v.to_str().unwrap().to_owned()))
                .collect()
        };
        let mut h = Headers::new();
        for (n, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
            h.append(n, v).unwrap();
        }
        assert!(matches!(h.bytes, Store::Inline { .. }));
        // Replacing `b` spills the store to the heap with `c` still after it.
        let long = "x".repeat(2 * INLINE);
        h.insert("B", &long).unwrap();
        assert!(matches!(h.bytes, Store::Heap(_)));
        let want = |b: &str, value: &str| {
            vec![
                ("a".to_owned(), "1".to_owned()),
                (b.to_owned(), value.to_owned()),
                ("c".to_owned(), "3".to_owned()),
            ]
        };
        assert_eq!(fields(&h), want("B", &long));
        // And shrinking it again on the heap moves `c` back down.
        h.insert("b", "2").unwrap();
        assert_eq!(fields(&h), want("b", "2"));
        assert_eq!(h.get("C").unwrap(), "3");
    }

    #[test]
    fn refuses_what_would_split_a_message() {
        let mut h = Headers::new();
        let bad_names = ["", "A B", "A:", "A\r\n", "Ä", "a\0"];
        for n in bad_names {
            assert!(
                matches!(h.append(n, "x"), Err(HeaderError::InvalidName(_))),
                "{n:?}"
            );
        }
        let bad_values: [&[u8]; 5] = [b"a\rb", b"a\nb", b"a\0b", b"\x7f", b"\x1b[0m"];
        for v in bad_values {
            assert!(
                matches!(h.insert("X", v), Err(HeaderError::InvalidValue { .. })),
                "{v:?}"
            );
        }
        assert!(h.is_empty());
        h.append("X", b"tab\tand \xff obs-text").unwrap();
        assert!(h.get("x").unwrap().to_str().is_err());
    }

    #[test]
    fn churn_stays_bounded() {
        let mut h = Headers::new();
        for i in 0..10_000 {
            h.insert("X-Counter", i.to_string()).unwrap();
            h.append("Y", "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy")
                .unwrap();
            h.remove("y");
        }
        assert_eq!(h.get("x-counter").unwrap(), "9999");
        assert!(h.bytes.len() < 4096, "{}", h.bytes.len());
    }

    /// A long pseudo-random run of appends, inserts and removes agrees with
    /// a plain list of pairs.
    #[test]
    fn agrees_with_a_list_of_pairs() {
        let names = ["A", "b", "Content-Type", "x-long-header-name", "B"];
        let mut model: Vec<(String, Vec<u8>)> = Vec::new();
        let mut h = Headers::new();
        let mut seed = 0x9e37_79b9_u32;
        for step in 0..5_000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let name = names[(seed % 5) as usize];
            let value = format!("v{step}").repeat((seed >> 8) as usize % 4);
            match (seed >> 4) % 4 {
                0 | 1 => {
                    h.append(name, &value).unwrap();
                    model.push((name.to_owned(), value.into_bytes()));
                }
                2 => {
                    h.insert(name, &value).unwrap();
                    let same = |n: &str| n.eq_ignore_ascii_case(name);
                    match model.iter().position(|(n, _)| same(n)) {
                        Some(i) => {
                            model[i] = (name.to_owned(), value.into_bytes());
                            let mut j = 0;
                            model.retain(|(n, _)| {
                                j += 1;
                                j - 1 <= i || !same(n)
                            });
                        }
                        None => model.push((name.to_owned(), value.into_bytes())),
                    }
                }
                _ => {
                    let before = model.len();
                    model.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                    assert_eq!(h.remove(name), before - model.len());
                }
            }
            let got: Vec<(String, Vec<u8>)> = h
                .iter()
                .map(|(n, v)| (n.to_owned(), v.as_bytes().to_vec()))
                .collect();
            assert_eq!(got, model, "step {step}");
            assert_eq!(h.len(), model.len());
            let first = model.iter().find(|(n, _)| n.eq_ignore_ascii_case("b"));
            assert_eq!(
                h.get("B").map(|v| v.as_bytes().to_vec()),
                first.map(|p| p.1.clone())
            );
        }
    }

    #[test]
    fn value_check_agrees_with_the_table_at_every_offset() {
        for fill in [b'a', b' ', 0x80, 0xff] {
            for bad in 0..=255u8 {
                for len in [1, 7, 8, 9, 16, 23] {
                    for at in 0..len {
                        let mut v = vec![fill; len];
                        v[at] = bad;
                        assert_eq!(
                            is_valid_value(&v),
                            VALUE_TABLE[usize::from(bad)],
                            "{fill} {bad} {len} {at}"
                        );
                    }
                }
            }
        }
    }
}
