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
/// All names and values live in one byte buffer and one entry list, so a map
/// costs two allocations however many fields it holds.
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
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    /// Bytes in `bytes` no entry refers to any more.
    garbage: usize,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    name_at: u32,
    name_len: u32,
    value_at: u32,
    value_len: u32,
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
pub fn is_valid_name(name: &[u8]) -> bool {
    // A fold rather than `all`: no early exit, so no branch per byte.
    let ok = name
        .iter()
        .fold(true, |ok, &b| ok & crate::is_token_byte(b));
    !name.is_empty() && ok
}

/// Whether `value` may be sent as a header value: no control character but HTAB.
/// Bytes above 0x7F (`obs-text`) are allowed.
pub fn is_valid_value(value: &[u8]) -> bool {
    // A fold rather than `all` so the loop has no early exit and vectorises.
    let bad = value.iter().fold(false, |bad, &b| {
        bad | ((b < 0x20 && b != b'\t') | (b == 0x7f))
    });
    !bad
}

impl Headers {
    /// An empty map.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// An empty map with room for `fields` fields totalling `bytes` bytes.
    pub fn with_capacity(fields: usize, bytes: usize) -> Headers {
        Headers {
            bytes: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(fields),
            garbage: 0,
        }
    }

    /// Number of fields (a name that appears twice counts twice).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Remove every field, keeping the allocations.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.garbage = 0;
    }

    fn name_of(&self, e: &Entry) -> &[u8] {
        &self.bytes[e.name_at as usize..(e.name_at + e.name_len) as usize]
    }

    fn value_of(&self, e: &Entry) -> &[u8] {
        &self.bytes[e.value_at as usize..(e.value_at + e.value_len) as usize]
    }

    fn matches(&self, e: &Entry, name: &[u8]) -> bool {
        e.name_len as usize == name.len() && self.name_of(e).eq_ignore_ascii_case(name)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<HeaderValue<'_>> {
        let name = name.as_bytes();
        self.entries
            .iter()
            .find(|e| self.matches(e, name))
            .map(|e| HeaderValue(self.value_of(e)))
    }

    /// The first value of `name` as text, if it is visible ASCII.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = HeaderValue<'a>> + 'a {
        let name = name.as_bytes();
        self.entries
            .iter()
            .filter(move |e| self.matches(e, name))
            .map(move |e| HeaderValue(self.value_of(e)))
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn push_bytes(&mut self, b: &[u8]) -> Result<(u32, u32), HeaderError> {
        let at = u32::try_from(self.bytes.len()).map_err(|_| HeaderError::Full)?;
        let len = u32::try_from(b.len()).map_err(|_| HeaderError::Full)?;
        at.checked_add(len).ok_or(HeaderError::Full)?;
        self.bytes.extend_from_slice(b);
        Ok((at, len))
    }

    fn checked(name: &[u8], value: &[u8]) -> Result<(), HeaderError> {
        let lossy = || String::from_utf8_lossy(name).into_owned();
        if !is_valid_name(name) {
            return Err(HeaderError::InvalidName(lossy()));
        }
        if !is_valid_value(value) {
            return Err(HeaderError::InvalidValue { name: lossy() });
        }
        Ok(())
    }

    /// Add a field after the existing ones, keeping any others of the same name.
    pub fn append(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), HeaderError> {
        self.append_bytes(name.as_bytes(), value)
    }

    /// [`append`](Headers::append) with the name as bytes (it must still be a
    /// token, so it is ASCII).
    pub fn append_bytes(
        &mut self,
        name: &[u8],
        value: impl AsRef<[u8]>,
    ) -> Result<(), HeaderError> {
        let value = value.as_ref();
        Self::checked(name, value)?;
        let (name_at, name_len) = self.push_bytes(name)?;
        let (value_at, value_len) = self.push_bytes(value)?;
        self.entries.push(Entry {
            name_at,
            name_len,
            value_at,
            value_len,
        });
        Ok(())
    }

    /// Set `name` to `value`: the first field of that name takes the new value
    /// (and the given name case), later ones are removed. Appends when absent.
    pub fn insert(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), HeaderError> {
        let value = value.as_ref();
        Self::checked(name.as_bytes(), value)?;
        let needle = name.as_bytes();
        match self.entries.iter().position(|e| self.matches(e, needle)) {
            None => self.append(name, value),
            Some(first) => {
                let (name_at, name_len) = self.push_bytes(needle)?;
                let (value_at, value_len) = self.push_bytes(value)?;
                let old = self.entries[first];
                self.garbage += (old.name_len + old.value_len) as usize;
                self.entries[first] = Entry {
                    name_at,
                    name_len,
                    value_at,
                    value_len,
                };
                self.remove_from(first + 1, needle);
                self.maybe_compact();
                Ok(())
            }
        }
    }

    fn remove_from(&mut self, start: usize, name: &[u8]) -> usize {
        let mut removed = 0;
        let mut i = start;
        while i < self.entries.len() {
            if self.matches(&self.entries[i], name) {
                let e = self.entries.remove(i);
                self.garbage += (e.name_len + e.value_len) as usize;
                removed += 1;
            } else {
                i += 1;
            }
        }
        removed
    }

    /// Remove every field named `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let removed = self.remove_from(0, name.as_bytes());
        self.maybe_compact();
        removed
    }

    fn maybe_compact(&mut self) {
        if self.garbage <= 1024 || self.garbage * 2 < self.bytes.len() {
            return;
        }
        let mut bytes = Vec::with_capacity(self.bytes.len() - self.garbage);
        for e in &mut self.entries {
            let name = &self.bytes[e.name_at as usize..(e.name_at + e.name_len) as usize];
            let value = &self.bytes[e.value_at as usize..(e.value_at + e.value_len) as usize];
            // Shrinking cannot overflow what already fitted in u32.
            e.name_at = bytes.len() as u32;
            bytes.extend_from_slice(name);
            e.value_at = bytes.len() as u32;
            bytes.extend_from_slice(value);
        }
        self.bytes = bytes;
        self.garbage = 0;
    }

    /// Every field in order, as `(name, value)`.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            headers: self,
            inner: self.entries.iter(),
        }
    }
}

/// Iterator over [`Headers`], see [`Headers::iter`].
pub struct Iter<'a> {
    headers: &'a Headers,
    inner: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, HeaderValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let e = self.inner.next()?;
        // Names are checked tokens, so always ASCII.
        let name = std::str::from_utf8(self.headers.name_of(e)).unwrap_or_default();
        Some((name, HeaderValue(self.headers.value_of(e))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
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
}
