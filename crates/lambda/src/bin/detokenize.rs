//! detokenize
fn main() {}
