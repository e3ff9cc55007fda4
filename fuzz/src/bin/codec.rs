//! AFL++ target: see `tidings_proto::fuzz_targets::codec`.
fn main() {
    afl::fuzz!(|data: &[u8]| tidings_proto::fuzz_targets::codec(data));
}
