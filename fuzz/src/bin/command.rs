//! AFL++ target: see `tidings_proto::fuzz_targets::command`.
fn main() {
    afl::fuzz!(|data: &[u8]| tidings_proto::fuzz_targets::command(data));
}
