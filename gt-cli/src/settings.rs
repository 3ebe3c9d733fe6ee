//! Settings: flags first, then the environment, then defaults, resolved once per command.

/// The agent identity for `gt prime`: `--role`, else `GT_ROLE`, else `BD_ACTOR`, else empty.
pub(crate) fn resolve_role(flag: Option<&str>, lookup: impl Fn(&str) -> Option<String>) -> String {
    flag.map(str::to_owned)
        .filter(|r| !r.is_empty())
        .or_else(|| lookup("GT_ROLE").filter(|r| !r.is_empty()))
        .or_else(|| lookup("BD_ACTOR").filter(|r| !r.is_empty()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_prefers_flag_then_gt_role_then_bd_actor() {
        let env = |k: &str| match k {
            "GT_ROLE" => Some("gastown/polecats/Toast".to_owned()),
            "BD_ACTOR" => Some("actor".to_owned()),
            _ => None,
        };
        assert_eq!(resolve_role(Some("mayor"), env), "mayor");
        assert_eq!(resolve_role(None, env), "gastown/polecats/Toast");
        assert_eq!(resolve_role(None, |k| (k == "BD_ACTOR").then(|| "a".to_owned())), "a");
        assert_eq!(resolve_role(None, |_| None), "");
    }
}
