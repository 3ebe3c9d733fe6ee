//! `OTEL_RESOURCE_ATTRIBUTES` written for children survives every decoder a child may use.

use std::collections::HashMap;

use telemetry_core::env::{
    BD_ACTOR, GT_CREW, GT_POLECAT, GT_RIG, GT_ROLE, GT_RUN, GT_SESSION, GT_WORK_BEAD, GT_WORK_MOL,
    GT_WORK_RIG, OTEL_RESOURCE_ATTRIBUTES,
};
use telemetry_core::resource::parse_resource_attributes;
use telemetry_subprocess::resource_attributes_from_lookup;

/// Values that corrupted the older implementation (it joined raw values) or that a sloppy
/// encoder would get wrong. The empty string is absent on purpose: it means "unset".
const HOSTILE: &[&str] = &[
    "a,b",
    "k=v",
    "100%",
    "two words",
    "\"quoted\"",
    "new\nline",
    "ünïcødé 🚀",
    " ",
    "\t",
    "  padded  ",
    "%2C",
    "%",
    "%zz",
    "1+1",
    "semi;colon",
    "back\\slash",
    "=",
    ",",
    "a=b,c=d",
    "gastown/polecats/Toast",
    "\u{0}nul\u{7f}del",
];

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |key| map.get(key).cloned()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn hostile_values_round_trip_exactly_through_telemetry_core() {
    for value in HOSTILE {
        let raw = resource_attributes_from_lookup(env(&[(GT_ROLE, value)])).unwrap();
        assert!(
            !raw.contains(['\n', '\t', ' ']),
            "{value:?} encoded as {raw:?}"
        );
        assert_eq!(
            parse_resource_attributes(&raw),
            pairs(&[("gt.role", value)]),
            "{raw:?}"
        );
    }
}

#[test]
fn hostile_values_in_every_attribute_at_once_round_trip() {
    let vars: Vec<(&str, &str)> = [
        GT_ROLE,
        GT_RIG,
        BD_ACTOR,
        GT_POLECAT,
        GT_SESSION,
        GT_RUN,
        GT_WORK_RIG,
        GT_WORK_BEAD,
        GT_WORK_MOL,
    ]
    .into_iter()
    .zip(HOSTILE.iter().copied())
    .collect();
    let raw = resource_attributes_from_lookup(env(&vars)).unwrap();
    let keys = [
        "gt.role",
        "gt.rig",
        "gt.actor",
        "gt.agent",
        "gt.session",
        "gt.run_id",
        "gt.work_rig",
        "gt.work_bead",
        "gt.work_mol",
    ];
    let expected: Vec<(&str, &str)> = keys.into_iter().zip(HOSTILE.iter().copied()).collect();
    assert_eq!(parse_resource_attributes(&raw), pairs(&expected));
}

#[test]
fn values_are_percent_encoded_as_the_resource_spec_requires() {
    let raw = resource_attributes_from_lookup(env(&[
        (GT_ROLE, "gastown/polecats/Toast"),
        (GT_RIG, "a,b"),
        (GT_SESSION, "two words"),
        (GT_WORK_BEAD, "100%"),
        (GT_WORK_MOL, "ü"),
    ]))
    .unwrap();
    assert_eq!(
        raw,
        "gt.role=gastown/polecats/Toast,gt.rig=a%2Cb,gt.session=two%20words,\
         gt.work_bead=100%25,gt.work_mol=%C3%BC"
    );
}

#[test]
fn unset_and_empty_variables_write_nothing() {
    assert_eq!(resource_attributes_from_lookup(env(&[])), None);
    assert_eq!(
        resource_attributes_from_lookup(env(&[(GT_ROLE, ""), (GT_CREW, "")])),
        None
    );
}

#[test]
fn foreign_attributes_are_kept_first_and_stale_gt_ones_replaced() {
    let raw = resource_attributes_from_lookup(env(&[
        (
            OTEL_RESOURCE_ATTRIBUTES,
            "deployment.environment=prod, team = a%2Cb ,gt.role=stale,gt.custom=x,note=1+1,bad",
        ),
        (GT_ROLE, "mayor"),
        (GT_CREW, "max"),
    ]))
    .unwrap();
    assert_eq!(
        raw,
        "deployment.environment=prod,team=a%2Cb,note=1%2B1,gt.role=mayor,gt.agent=max"
    );
    assert_eq!(
        parse_resource_attributes(&raw),
        pairs(&[
            ("deployment.environment", "prod"),
            ("team", "a,b"),
            ("note", "1+1"),
            ("gt.role", "mayor"),
            ("gt.agent", "max"),
        ])
    );
}

#[test]
fn foreign_attributes_alone_are_passed_on_re_encoded() {
    let raw = resource_attributes_from_lookup(env(&[(OTEL_RESOURCE_ATTRIBUTES, "k%20ey=v%22")]));
    assert_eq!(raw.as_deref(), Some("k%20ey=v%22"));
    let only_gt = resource_attributes_from_lookup(env(&[(OTEL_RESOURCE_ATTRIBUTES, "gt.role=x")]));
    assert_eq!(only_gt, None);
}

#[test]
fn writing_is_idempotent_over_its_own_output() {
    let first = resource_attributes_from_lookup(env(&[(GT_ROLE, "a,b"), (GT_RUN, "r 1")])).unwrap();
    let again = resource_attributes_from_lookup(env(&[
        (OTEL_RESOURCE_ATTRIBUTES, &first),
        (GT_ROLE, "a,b"),
        (GT_RUN, "r 1"),
    ]))
    .unwrap();
    assert_eq!(first, again);
}

/// The decoders of the other SDKs a child may run, as their sources read. Each splits on `,`,
/// then on the first `=`, trims spaces, and decodes the value only (keys are taken verbatim).
mod sdk_decoders {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }

    /// `%XX` decoding; `strict` refuses a malformed escape (Go), otherwise it is kept (Python).
    fn unescape(s: &str, plus_is_space: bool, strict: bool) -> Result<String, String> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' => {
                    let escape = bytes
                        .get(i + 1..i + 3)
                        .and_then(|h| Some(hex(h[0])? * 16 + hex(h[1])?));
                    match escape {
                        Some(byte) => {
                            out.push(byte);
                            i += 3;
                            continue;
                        }
                        None if strict => return Err(format!("invalid URL escape in {s:?}")),
                        None => out.push(b'%'),
                    }
                }
                b'+' if plus_is_space => out.push(b' '),
                b => out.push(b),
            }
            i += 1;
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn split(raw: &str, decode: impl Fn(&str) -> String) -> Vec<(String, String)> {
        raw.split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), decode(v.trim())))
            .collect()
    }

    /// Go SDK (`sdk/resource/env.go`): `url.PathUnescape`, which keeps `+` as `+`; on a
    /// decoding error it keeps the raw value.
    pub(super) fn go(raw: &str) -> Vec<(String, String)> {
        split(raw, |v| {
            unescape(v, false, true).unwrap_or_else(|_| v.to_owned())
        })
    }

    /// Python SDK (`OTELResourceDetector`): `urllib.parse.unquote`, lenient, `+` kept.
    pub(super) fn python(raw: &str) -> Vec<(String, String)> {
        split(raw, |v| {
            unescape(v, false, false).unwrap_or_else(|_| v.to_owned())
        })
    }

    /// Form decoding (Java's `URLDecoder`, `QueryUnescape`): `+` becomes a space.
    pub(super) fn form(raw: &str) -> Vec<(String, String)> {
        split(raw, |v| {
            unescape(v, true, true).unwrap_or_else(|_| v.to_owned())
        })
    }
}

#[test]
fn go_python_and_form_decoders_read_the_same_values() {
    for value in HOSTILE {
        let raw = resource_attributes_from_lookup(env(&[
            (OTEL_RESOURCE_ATTRIBUTES, "service.namespace=gastown"),
            (GT_ROLE, value),
        ]))
        .unwrap();
        let expected = pairs(&[("service.namespace", "gastown"), ("gt.role", value)]);
        assert_eq!(sdk_decoders::go(&raw), expected, "Go SDK reading {raw:?}");
        assert_eq!(
            sdk_decoders::python(&raw),
            expected,
            "Python SDK reading {raw:?}"
        );
        assert_eq!(
            sdk_decoders::form(&raw),
            expected,
            "form decoder reading {raw:?}"
        );
    }
}

#[test]
fn the_reference_decoders_disagree_on_a_raw_plus_which_is_why_it_is_encoded() {
    assert_eq!(sdk_decoders::go("k=1+1"), pairs(&[("k", "1+1")]));
    assert_eq!(sdk_decoders::form("k=1+1"), pairs(&[("k", "1 1")]));
}
