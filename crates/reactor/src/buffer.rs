//! [`Buffer`]: a connection's input bytes, bounded, reused, and given back to
//! a pool while the connection is idle.

/// Bytes read from a peer and not yet consumed: `data[start..end]`.
///
/// The backing storage is zeroed once when allocated and never again, so a read
/// goes straight into it without unsafe code and without clearing memory on
/// every read.
#[derive(Debug, Default)]
pub struct Buffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buffer {
    pub(crate) fn with_storage(data: Vec<u8>) -> Buffer {
        Buffer {
            data,
            start: 0,
            end: 0,
        }
    }

    /// The unconsumed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Number of unconsumed bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Drop `n` bytes from the front.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn take_storage(&mut self) -> Vec<u8> {
        self.start = 0;
        self.end = 0;
        std::mem::take(&mut self.data)
    }

    /// Free space at the end, after moving the bytes to the front or growing
    /// (up to `max` bytes of storage) if there is none. Empty when the buffer
    /// is full at `max`. Storage larger than `max` (a pooled vector, say) is
    /// used only up to `max`, so the buffer never holds more.
    pub(crate) fn spare(&mut self, max: usize) -> &mut [u8] {
        let usable = |len: usize| len.min(max);
        if self.end >= usable(self.data.len()) && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end >= usable(self.data.len()) && self.data.len() < max {
            let grown = (self.data.len() * 2).max(4096).min(max);
            self.data.resize(grown, 0);
        }
        let limit = usable(self.data.len()).max(self.end);
        &mut self.data[self.end..limit]
    }

    pub(crate) fn filled(&mut self, n: usize) {
        self.end += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fill the buffer through `spare` until it says it is full.
    fn fill(buf: &mut Buffer, max: usize) -> usize {
        loop {
            let n = buf.spare(max).len();
            if n == 0 {
                return buf.len();
            }
            buf.filled(n);
        }
    }

    #[test]
    fn never_holds_more_than_max_whatever_its_storage() {
        for (storage, max) in [(0, 1024), (1024, 2048), (16 * 1024, 1024), (0, 80 * 1024)] {
            let mut buf = Buffer::with_storage(vec![0; storage]);
            assert_eq!(fill(&mut buf, max), max, "storage {storage}, max {max}");
            // Consuming from the front makes room again, up to `max`.
            buf.consume(100);
            assert_eq!(fill(&mut buf, max), max, "storage {storage}, max {max}");
        }
    }
}
