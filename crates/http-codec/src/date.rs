//! The `Date` header value (RFC 9110 section 5.6.7, IMF-fixdate), formatted at
//! most once a second per thread.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const HTTP_DATE_LEN: usize = 29;

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn two(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Format `secs` seconds after the Unix epoch as an IMF-fixdate. Years past
/// 9999 are shown as 9999.
///
/// ```
/// assert_eq!(&http_codec::format_http_date(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn format_http_date(secs: u64) -> [u8; HTTP_DATE_LEN] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from a day count (the proleptic Gregorian calendar in 400-year
    // eras of 146,097 days, with years starting on March 1st).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = (yoe + era * 400 + u64::from(month <= 2)).min(9999);

    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    two(&mut out[12..14], year / 100);
    two(&mut out[14..16], year);
    two(&mut out[17..19], rem / 3600);
    two(&mut out[20..22], rem / 60 % 60);
    two(&mut out[23..25], rem % 60);
    out
}

thread_local! {
    static CACHED: Cell<(u64, [u8; HTTP_DATE_LEN])> = const { Cell::new((u64::MAX, [0; HTTP_DATE_LEN])) };
}

/// The current date as an IMF-fixdate.
///
/// Each thread keeps the last value it formatted and formats again only when
/// the second changes, so reading it costs a clock read and a 29-byte copy, with
/// no lock and no shared cache line between threads.
pub fn http_date_now() -> [u8; HTTP_DATE_LEN] {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHED.with(|c| {
        let (at, date) = c.get();
        if at == secs {
            return date;
        }
        let date = format_http_date(secs);
        c.set((secs, date));
        date
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let cases: &[(u64, &[u8])] = &[
            (0, b"Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, b"Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, b"Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_709_164_799, b"Wed, 28 Feb 2024 23:59:59 GMT"),
            (1_709_251_200, b"Fri, 01 Mar 2024 00:00:00 GMT"),
            (4_102_444_800, b"Fri, 01 Jan 2100 00:00:00 GMT"),
            (253_402_300_799, b"Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for &(secs, want) in cases {
            assert_eq!(&format_http_date(secs)[..], want, "{secs}");
        }
    }

    #[test]
    fn now_is_well_formed_and_stable_within_a_second() {
        let a = http_date_now();
        assert_eq!(&a[25..], b" GMT");
        assert!(a[..3].iter().all(u8::is_ascii_alphabetic));
    }
}
