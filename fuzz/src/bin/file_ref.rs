//! AFL++ target: see `tidings_proto::fuzz_targets::file_ref`.
fn main() {
    afl::fuzz!(|data: &[u8]| tidings_proto::fuzz_targets::file_ref(data));
}
