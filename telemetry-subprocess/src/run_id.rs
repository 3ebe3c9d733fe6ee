//! Run ids: the value of `GT_RUN` that ties every event of one agent run together.
//!
//! One job: mint them. It must not store or export them.

/// A fresh run id: a random UUID v4 in its hyphenated lower-case form
/// (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`), unique per call.
#[must_use]
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_are_distinct_v4_uuids() {
        let (a, b) = (super::new_run_id(), super::new_run_id());
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(a, parsed.hyphenated().to_string());
    }
}
