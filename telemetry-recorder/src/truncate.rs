//! Byte-bounded truncation of record content that never splits a UTF-8 character.
//!
//! The limit counts the trailing [`ELLIPSIS`]: a truncated value is at most `limit` bytes long,
//! ellipsis included (for limits below 3 bytes, the value is the ellipsis alone, 3 bytes).
//! A limit of `0` means "no truncation". This module only shapes strings; it must not decide
//! what is recorded.

use std::borrow::Cow;

/// Appended to every truncated value (U+2026, 3 bytes in UTF-8).
pub const ELLIPSIS: &str = "…";

/// `value` unchanged if it fits in `limit` bytes (or `limit` is 0), otherwise its longest
/// prefix that ends on a character boundary and leaves room for [`ELLIPSIS`], followed by it.
#[must_use]
pub fn truncate(value: &str, limit: usize) -> Cow<'_, str> {
    if limit == 0 || value.len() <= limit {
        return Cow::Borrowed(value);
    }
    let cut = floor_char_boundary(value, limit.saturating_sub(ELLIPSIS.len()));
    let mut out = String::with_capacity(cut + ELLIPSIS.len());
    out.push_str(&value[..cut]);
    out.push_str(ELLIPSIS);
    Cow::Owned(out)
}

/// Bytes (a subprocess's output) decoded as lossy UTF-8 (invalid sequences become U+FFFD),
/// then [`truncate`]d. Only about `limit` bytes of input are decoded, however long it is.
#[must_use]
pub fn truncate_lossy(bytes: &[u8], limit: usize) -> Cow<'_, str> {
    // A character starting before `limit` ends at most 3 bytes later, and lossy decoding never
    // shortens its input, so decoding `limit + 4` bytes yields the same kept prefix and still
    // exceeds the limit (forcing the ellipsis) whenever the whole input would.
    let window = if limit == 0 {
        bytes.len()
    } else {
        bytes.len().min(limit + 4)
    };
    match String::from_utf8_lossy(&bytes[..window]) {
        Cow::Borrowed(s) => truncate(s, limit),
        Cow::Owned(s) => Cow::Owned(truncate(&s, limit).into_owned()),
    }
}

/// The largest character boundary of `s` at or below `index`.
fn floor_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    (0..=index)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_borrowed_unchanged() {
        assert!(matches!(truncate("abc", 3), Cow::Borrowed("abc")));
        assert!(matches!(truncate("abc", 0), Cow::Borrowed("abc")));
    }

    #[test]
    fn limit_counts_the_ellipsis() {
        let t = truncate("abcdefghij", 8);
        assert_eq!(t, "abcde…");
        assert_eq!(t.len(), 8);
    }

    #[test]
    fn never_splits_a_character_and_stays_within_limit() {
        // "é" is 2 bytes, "€" 3, "😀" 4: every cut position is exercised.
        let s = "aé€😀bé€😀cé€😀";
        for limit in 1..=s.len() + 1 {
            let t = truncate(s, limit);
            assert!(t.len() <= limit.max(ELLIPSIS.len()), "limit {limit}: {t:?}");
            if s.len() > limit {
                let kept = t.strip_suffix(ELLIPSIS).expect("ellipsis");
                assert!(s.starts_with(kept), "limit {limit}: {t:?}");
                // Maximal: the next character would not have fitted.
                let next = s[kept.len()..].chars().next().unwrap().len_utf8();
                assert!(
                    kept.len() + next + ELLIPSIS.len() > limit,
                    "limit {limit}: {t:?}"
                );
            } else {
                assert_eq!(t, s);
            }
        }
    }

    #[test]
    fn lossy_matches_decoding_everything_first() {
        let mut bytes = "ok é€😀 ".repeat(40).into_bytes();
        bytes.insert(7, 0xFF);
        bytes.insert(30, 0xC3); // a lead byte with no continuation
        for cut in [bytes.len(), 10, 11, 29, 31] {
            let input = &bytes[..cut];
            for limit in [0, 1, 3, 5, 8, 9, 10, 12, 31, 32, 33, 100, 1000] {
                let whole = String::from_utf8_lossy(input);
                assert_eq!(
                    truncate_lossy(input, limit),
                    truncate(&whole, limit),
                    "{cut}/{limit}"
                );
            }
        }
    }
}
