//! The Gas Town identity variables and the `gt.*` resource attributes they become.
//!
//! One job: map each identity variable (declared in `telemetry_core::env`) to its attribute key, in the order the
//! attributes are written. It must not read the process environment itself, nor encode values.

use telemetry_core::env::{
    BD_ACTOR, GT_CREW, GT_POLECAT, GT_RIG, GT_ROLE, GT_RUN, GT_SESSION, GT_WORK_BEAD, GT_WORK_MOL,
    GT_WORK_RIG,
};

/// Every resource attribute key starting with this prefix belongs to gt: a parent's value for
/// such a key is replaced, never passed on.
pub const GT_ATTRIBUTE_PREFIX: &str = "gt.";

/// One identity attribute and where its value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityAttribute {
    /// The resource attribute key (always starts with [`GT_ATTRIBUTE_PREFIX`]).
    pub key: &'static str,
    /// The variables read, in order; the first with a non-empty value wins.
    pub sources: &'static [&'static str],
}

/// The identity attributes in the order they are written to `OTEL_RESOURCE_ATTRIBUTES`.
pub const IDENTITY_ATTRIBUTES: &[IdentityAttribute] = &[
    IdentityAttribute {
        key: "gt.role",
        sources: &[GT_ROLE],
    },
    IdentityAttribute {
        key: "gt.rig",
        sources: &[GT_RIG],
    },
    IdentityAttribute {
        key: "gt.actor",
        sources: &[BD_ACTOR],
    },
    IdentityAttribute {
        key: "gt.agent",
        sources: &[GT_POLECAT, GT_CREW],
    },
    IdentityAttribute {
        key: "gt.session",
        sources: &[GT_SESSION],
    },
    IdentityAttribute {
        key: "gt.run_id",
        sources: &[GT_RUN],
    },
    IdentityAttribute {
        key: "gt.work_rig",
        sources: &[GT_WORK_RIG],
    },
    IdentityAttribute {
        key: "gt.work_bead",
        sources: &[GT_WORK_BEAD],
    },
    IdentityAttribute {
        key: "gt.work_mol",
        sources: &[GT_WORK_MOL],
    },
];

/// The value of `name` through `lookup`, with an empty value counting as unset.
///
/// Values are otherwise kept exactly (a lone space is a value), because they must reach the
/// child unchanged.
pub(crate) fn non_empty(lookup: impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.is_empty())
}

/// The identity attributes that `lookup` has values for, in [`IDENTITY_ATTRIBUTES`] order,
/// decoded (raw) values.
#[must_use]
pub fn gt_attributes_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<(&'static str, String)> {
    IDENTITY_ATTRIBUTES
        .iter()
        .filter_map(|attr| {
            attr.sources
                .iter()
                .find_map(|source| non_empty(&lookup, source))
                .map(|value| (attr.key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn every_key_is_owned_by_gt() {
        assert!(
            IDENTITY_ATTRIBUTES
                .iter()
                .all(|a| a.key.starts_with(GT_ATTRIBUTE_PREFIX))
        );
    }

    #[test]
    fn polecat_wins_over_crew_and_crew_is_the_fallback() {
        let both = gt_attributes_from_lookup(lookup(&[(GT_POLECAT, "Toast"), (GT_CREW, "max")]));
        assert_eq!(both, vec![("gt.agent", "Toast".to_owned())]);
        let crew = gt_attributes_from_lookup(lookup(&[(GT_POLECAT, ""), (GT_CREW, "max")]));
        assert_eq!(crew, vec![("gt.agent", "max".to_owned())]);
    }

    #[test]
    fn only_set_variables_appear_in_table_order() {
        let attrs = gt_attributes_from_lookup(lookup(&[
            (GT_WORK_MOL, "mol-1"),
            (GT_ROLE, "mayor"),
            (GT_RIG, ""),
            (GT_RUN, "r"),
        ]));
        assert_eq!(
            attrs,
            vec![
                ("gt.role", "mayor".to_owned()),
                ("gt.run_id", "r".to_owned()),
                ("gt.work_mol", "mol-1".to_owned()),
            ]
        );
    }
}
