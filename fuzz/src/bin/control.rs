//! AFL++ target: see `tidings_proto::fuzz_targets::control`.
fn main() {
    afl::fuzz!(|data: &[u8]| tidings_proto::fuzz_targets::control(data));
}
