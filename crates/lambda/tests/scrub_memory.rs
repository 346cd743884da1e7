//! The forward scrubber's memory on a hostile answer, alone in its own test
//! process: the peak resident memory it reads would count other tests'
//! allocations if they ran beside it (red-team review, finding 13).

use tessera_lambda::forward::scrub;

const VISA: &str = "4111111111111111";

/// The process's peak resident memory (Linux `VmHWM`), in bytes.
fn peak_rss() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn attack_scrub_allocates_over_a_hundred_times_the_answer_size() {
    // The whole answer (1 MiB at most) must be scrubbed or refused within
    // a bound far below the function's 256 MB: here 64 MiB, for an answer
    // of nothing but digit groups, at the digit limit and far over it.
    for answer in [
        "2 ".repeat(scrub::MAX_ANSWER_DIGITS),
        "2 ".repeat(128 * 1024), // 256 KiB
        // One base64-looking run, decoded at four offsets and searched.
        "NDEx".repeat(64 * 1024),      // 256 KiB
        "%4E&#x44;".repeat(28 * 1024), // escapes to decode, 252 KiB
    ] {
        let before = peak_rss();
        let started = std::time::Instant::now();
        let out = scrub::body(answer.as_bytes(), &[VISA]);
        let took = started.elapsed();
        let grew = peak_rss().saturating_sub(before);
        let refused = out.is_err();
        drop(out);
        assert!(
            grew <= 64 * 1024 * 1024,
            "scrubbing a {} KiB answer (refused: {refused}) raised peak memory by {} MiB and took {took:?}",
            answer.len() / 1024,
            grew / (1024 * 1024),
        );
    }
}
