//! Times as milliseconds since the Unix epoch, parsed from the formats
//! CloudTrail and the audit trail write.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

/// One minute.
pub const MINUTE: Millis = 60_000;
/// One hour.
pub const HOUR: Millis = 60 * MINUTE;
/// One day.
pub const DAY: Millis = 24 * HOUR;

/// Parses an RFC 3339 time (`2015-08-17T14:52:27Z`, fractions allowed).
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats as CloudTrail does (`2015-08-17T14:52:27Z`, whole seconds).
pub fn format_rfc3339(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Parses the compact UTC stamp of a CloudTrail file name: `20150817T1445Z`
/// (log files) or `20150817T150131Z` (digest files).
pub fn parse_compact(stamp: &str) -> Option<Millis> {
    let body = stamp.strip_suffix('Z')?;
    let (date, clock) = body.split_once('T')?;
    if date.len() != 8 || !(clock.len() == 4 || clock.len() == 6) {
        return None;
    }
    if !date
        .bytes()
        .chain(clock.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let seconds = if clock.len() == 6 { &clock[4..6] } else { "00" };
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[0..4],
        &date[4..6],
        &date[6..8],
        &clock[0..2],
        &clock[2..4],
        seconds
    );
    parse_rfc3339(&text)
}

/// The `YYYY/MM/DD` of a time, as CloudTrail's key prefixes name days.
pub fn day_path(ms: Millis) -> String {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!("{:04}/{:02}/{:02}", t.year(), u8::from(t.month()), t.day())
}

/// The compact stamps CloudTrail writes into file names, for the test
/// helpers and the examples: `YYYYMMDDTHHmmZ` when `seconds` is false.
pub fn format_compact(ms: Millis, seconds: bool) -> String {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut s = format!(
        "{:04}{:02}{:02}T{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    );
    if seconds {
        s.push_str(&format!("{:02}", t.second()));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_stamps_and_rfc3339() {
        let t = parse_rfc3339("2015-08-17T14:45:00Z").expect("rfc3339");
        assert_eq!(parse_compact("20150817T1445Z"), Some(t));
        assert_eq!(parse_compact("20150817T144500Z"), Some(t));
        assert_eq!(parse_rfc3339("2015-08-17T14:45:00.250Z"), Some(t + 250));
        assert_eq!(format_rfc3339(t + 999), "2015-08-17T14:45:00Z");
        assert_eq!(format_compact(t, false), "20150817T1445Z");
        assert_eq!(format_compact(t, true), "20150817T144500Z");
        assert_eq!(day_path(t), "2015/08/17");
        for bad in ["20150817T1445", "2015081T1445Z", "20150817T14a5Z", ""] {
            assert_eq!(parse_compact(bad), None, "{bad}");
        }
    }
}
