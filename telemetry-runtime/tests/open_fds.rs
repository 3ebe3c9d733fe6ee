//! The open file descriptor count is exact (alone in its process: no other test opens files).

#[cfg(target_os = "linux")]
#[test]
fn opening_a_file_adds_exactly_one_descriptor() {
    let mut sampler = telemetry_runtime::ProcessSampler::new().unwrap();
    let before = sampler.sample().open_file_descriptors.unwrap();
    let file = std::fs::File::open("Cargo.toml").unwrap();
    let during = sampler.sample().open_file_descriptors.unwrap();
    drop(file);
    let after = sampler.sample().open_file_descriptors.unwrap();
    assert_eq!((during, after), (before + 1, before));
}
