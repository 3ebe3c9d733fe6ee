//! The OpenTelemetry resource of every export: who is sending (service, host, OS), plus the
//! operator's `OTEL_RESOURCE_ATTRIBUTES`.
//!
//! The Rust SDK's own environment detector does not percent-decode `OTEL_RESOURCE_ATTRIBUTES`
//! (opentelemetry-rust issue 857) and its process detector copies command lines into every
//! record, so neither is used: [`parse_resource_attributes`] is this workspace's one reader of
//! that format, and `telemetry-subprocess` is its one writer.

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use percent_encoding::percent_decode_str;

/// Parses an `OTEL_RESOURCE_ATTRIBUTES`-style list (`k1=v1,k2=v2`), percent-decoding keys and
/// values as the OpenTelemetry specification, the Go and the Python SDKs do.
///
/// Pairs without `=` or with an empty key are skipped; surrounding spaces are trimmed; a `+` is
/// kept as `+` (it is not form encoding). Invalid UTF-8 after decoding is replaced with U+FFFD
/// rather than dropping the pair. A later duplicate key replaces the earlier one in place.
#[must_use]
pub fn parse_resource_attributes(raw: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let key = percent_decode_str(key.trim())
            .decode_utf8_lossy()
            .into_owned();
        if key.is_empty() {
            continue;
        }
        let value = percent_decode_str(value.trim())
            .decode_utf8_lossy()
            .into_owned();
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    out
}

/// The work-context attributes: what the agent works on changes while a process lives, so
/// they describe records (and the environment of children started after a resolution), never
/// a process's own resource. [`build_resource`] drops them from `OTEL_RESOURCE_ATTRIBUTES`
/// (a parent that was started with an older work context passes it on there).
pub const WORK_ATTRIBUTES: &[&str] = &["gt.work_rig", "gt.work_bead", "gt.work_mol"];

/// The resource for `service_name`/`service_version` on this host, merged with `extra`
/// (decoded `OTEL_RESOURCE_ATTRIBUTES`; operator values win over detected ones, except
/// `service.instance.id`, which is always this process's own, and the [`WORK_ATTRIBUTES`],
/// which are never on a resource).
#[must_use]
pub fn build_resource(
    service_name: &str,
    service_version: &str,
    instance_id: &str,
    extra: &[(String, String)],
) -> Resource {
    let mut attrs: Vec<KeyValue> = vec![
        KeyValue::new("service.name", service_name.to_owned()),
        KeyValue::new("service.version", service_version.to_owned()),
        KeyValue::new("host.arch", host_arch()),
        KeyValue::new("os.type", std::env::consts::OS),
    ];
    if let Ok(host) = sysinfo::System::host_name() {
        attrs.push(KeyValue::new("host.name", host));
    }
    if let Ok(version) = sysinfo::System::kernel_version() {
        attrs.push(KeyValue::new("os.version", version));
    }
    if let Ok(description) = sysinfo::System::long_os_version() {
        attrs.push(KeyValue::new("os.description", description));
    }
    attrs.extend(
        extra
            .iter()
            .filter(|(k, _)| k != "service.instance.id" && !WORK_ATTRIBUTES.contains(&k.as_str()))
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    attrs.push(KeyValue::new("service.instance.id", instance_id.to_owned()));
    Resource::builder_empty().with_attributes(attrs).build()
}

/// `host.arch` in the semantic-convention vocabulary (`amd64`, `arm64`, …).
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "arm" => "arm32",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_attributes_never_reach_the_resource() {
        let extra =
            parse_resource_attributes("gt.role=mayor,gt.work_bead=old,gt.work_rig=r,gt.work_mol=m");
        let resource = build_resource("gastown", "0", "id", &extra);
        assert_eq!(
            resource.get(&opentelemetry::Key::from_static_str("gt.role")),
            Some(opentelemetry::Value::from("mayor"))
        );
        for key in WORK_ATTRIBUTES {
            assert_eq!(resource.get(&opentelemetry::Key::from(*key)), None, "{key}");
        }
    }

    #[test]
    fn decodes_percent_escapes_in_keys_and_values() {
        let parsed = parse_resource_attributes("a%2Cb=c%3Dd,sp=two%20words, x = 1+1 ,uni=%C3%BC");
        assert_eq!(
            parsed,
            vec![
                ("a,b".into(), "c=d".into()),
                ("sp".into(), "two words".into()),
                ("x".into(), "1+1".into()),
                ("uni".into(), "ü".into()),
            ]
        );
    }

    #[test]
    fn skips_malformed_pairs_and_keeps_last_duplicate() {
        let parsed = parse_resource_attributes("novalue,=empty,k=1,k=2,,ok=");
        assert_eq!(
            parsed,
            vec![("k".into(), "2".into()), ("ok".into(), String::new())]
        );
    }

    #[test]
    fn operator_attributes_merge_but_instance_id_is_ours() {
        let extra = vec![
            ("deployment.environment".to_owned(), "prod".to_owned()),
            ("service.instance.id".to_owned(), "forged".to_owned()),
        ];
        let r = build_resource("gastown", "1.2.3", "me", &extra);
        let get = |k: &'static str| r.get(&opentelemetry::Key::from_static_str(k));
        assert_eq!(get("service.name").unwrap().as_str(), "gastown");
        assert_eq!(get("deployment.environment").unwrap().as_str(), "prod");
        assert_eq!(get("service.instance.id").unwrap().as_str(), "me");
        assert!(get("host.arch").is_some() && get("os.type").is_some());
    }
}
