//! AFL++ target: see `tidings_proto::fuzz_targets::signature`.
fn main() {
    afl::fuzz!(|data: &[u8]| tidings_proto::fuzz_targets::signature(data));
}
