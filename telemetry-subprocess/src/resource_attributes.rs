//! Writing the `OTEL_RESOURCE_ATTRIBUTES` value a child process receives.
//!
//! One job: compose `key=value,key=value` from the parent's foreign attributes and the `gt.*`
//! identity attributes, percent-encoding every key and value so any string survives the
//! child's SDK parser. It must not parse the format itself (that is
//! [`telemetry_core::resource::parse_resource_attributes`]) nor touch the environment.
//!
//! # Encoding
//!
//! The OpenTelemetry resource specification says values follow W3C Baggage: every byte outside
//! `baggage-octet` (`%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`) must be percent-encoded.
//! [`ENCODE_SET`] encodes those (controls, space, `"`, `,`, `;`, `\`, DEL and every non-ASCII
//! byte, as `%XX` of its UTF-8) plus three printable characters that decoders treat specially:
//!
//! - `%`, or a literal `%2C` would come out of the decoder as `,`;
//! - `=`, harmless after the first `=` for the Go and Python SDKs but not for naive splitters;
//! - `+`, which the Go SDK (`url.PathUnescape`), the Python SDK (`urllib.parse.unquote`) and
//!   `telemetry-core` keep as `+`, but form decoders such as Java's `URLDecoder` turn into a
//!   space. Written as `%2B`, it decodes to `+` under both conventions.
//!
//! Hex digits are upper case. The decoders trim spaces around keys and values before decoding;
//! since spaces are always encoded, leading and trailing spaces of a value survive too.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use telemetry_core::env::OTEL_RESOURCE_ATTRIBUTES;

use crate::identity::{GT_ATTRIBUTE_PREFIX, gt_attributes_from_lookup, non_empty};

/// The bytes percent-encoded in keys and values; see the [module docs](self) for why each.
/// Non-ASCII bytes are always encoded by `percent-encoding`, whatever the set.
pub const ENCODE_SET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%')
    .add(b'=')
    .add(b'+');

/// Percent-encodes one key or value with [`ENCODE_SET`].
///
/// `telemetry_core::resource::parse_resource_attributes` decodes it back to `s` exactly, for
/// every `s`; so do the Go and Python SDKs.
#[must_use]
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, ENCODE_SET).to_string()
}

/// Formats `pairs` as an `OTEL_RESOURCE_ATTRIBUTES` value, encoding every key and value.
///
/// Pairs with an empty key are dropped (the parsers skip them anyway); an empty value is kept
/// as `key=`.
#[must_use]
pub fn format_resource_attributes<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = String::new();
    for (key, value) in pairs {
        let (key, value) = (key.as_ref(), value.as_ref());
        if key.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&encode_component(key));
        out.push('=');
        out.push_str(&encode_component(value));
    }
    out
}

/// The `OTEL_RESOURCE_ATTRIBUTES` value for a child, from the variables `lookup` returns.
///
/// The parent's own `OTEL_RESOURCE_ATTRIBUTES` attributes come first, decoded then re-encoded,
/// except keys starting with `gt.`, which gt owns; then the identity attributes that are set,
/// in [`crate::identity::IDENTITY_ATTRIBUTES`] order. `None` when there is nothing to write.
#[must_use]
pub fn resource_attributes_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let foreign = non_empty(&lookup, OTEL_RESOURCE_ATTRIBUTES)
        .map(|raw| telemetry_core::resource::parse_resource_attributes(&raw))
        .unwrap_or_default()
        .into_iter()
        .filter(|(key, _)| !key.starts_with(GT_ATTRIBUTE_PREFIX));
    let owned = gt_attributes_from_lookup(&lookup)
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value));
    Some(format_resource_attributes(foreign.chain(owned))).filter(|v| !v.is_empty())
}

/// [`resource_attributes_from_lookup`] over the process environment (a variable that is not
/// valid Unicode counts as unset).
#[must_use]
pub fn resource_attributes() -> Option<String> {
    resource_attributes_from_lookup(|key| std::env::var(key).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_special_bytes_are_encoded_upper_case() {
        assert_eq!(
            encode_component("a,b=c%d e+f;g\"h\\i"),
            "a%2Cb%3Dc%25d%20e%2Bf%3Bg%22h%5Ci"
        );
        assert_eq!(encode_component("ü\n\u{7f}"), "%C3%BC%0A%7F");
    }

    #[test]
    fn baggage_octets_other_than_the_three_specials_stay_readable() {
        let readable = "gastown/polecats/Toast:v1.2_x-y~z@host#frag!*'()[]{}|^`&$?<>";
        assert_eq!(encode_component(readable), readable);
    }

    #[test]
    fn empty_keys_are_dropped_and_empty_values_kept() {
        assert_eq!(
            format_resource_attributes([("", "x"), ("k", ""), ("j", "1")]),
            "k=,j=1"
        );
    }
}
