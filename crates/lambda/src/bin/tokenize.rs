//! tokenize
fn main() {}
